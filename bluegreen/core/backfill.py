"""The backfill: walk the live table's primary key in ranges and copy each range into the
shadow, the same on every engine.

A producer finds the next range's upper key (``chunk size`` rows on from the last one) and
checkpoints it before handing it on; a consumer waits for the throttle, copies the range and
marks its checkpoint done in the same transaction, then tells the sizer how long it took. On
an engine whose sessions can write the shadow at once (``Capabilities.parallel_copy``) the
producer and ``workers`` consumers are threads on sessions of their own, joined by a bounded
queue (as gh-ost's and Spirit's copiers are); elsewhere one loop does both, in turn.

A run that stops anywhere resumes from its checkpoints: ranges handed out but not done are
copied again first (a range's copy and its checkpoint commit together), and the walk goes
on from the last range's upper key. What the engine provides is a ``Chunker``.
"""

from __future__ import annotations

import json
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen.core.db import Db, sql_for
from bluegreen.core.pace import ChunkSizer
from bluegreen.core.state import MigrationRecord, MigrationStore

Key = list[Any]  # a primary key value, JSON-safe


@dataclass(frozen=True)
class Range:
    """Rows with ``lo < key <= hi`` (no lower bound when ``lo`` is None)."""

    seq: int
    lo: Key | None
    hi: Key
    planned: int  # the chunk size it was cut for: the rows the throttle reserves


class Chunker(Protocol):
    """An engine's side of the walk. Each method gets a session from ``session``."""

    def session(self, role: str) -> AbstractContextManager[Any]:
        """A connection for the producer or a worker (``role`` names it to the server)."""
        ...

    def extent(self, session: Any) -> tuple[Key | None, int]:
        """The last key now (None: the table is empty) and about how many rows there are."""
        ...

    def checkpoints(self, session: Any) -> tuple[list[Range], int, Key | None]:
        """Ranges checkpointed but not done, the last range's number and its upper key."""
        ...

    def boundary(self, session: Any, lo: Key | None, last: Key, size: int) -> Key | None:
        """The key ``size`` rows after ``lo`` (at most ``last``), or None when fewer rows
        remain."""
        ...

    def checkpoint(self, session: Any, r: Range) -> bool:
        """Record ``r`` before it is copied; False when the migration is no longer copying
        (aborted), which ends the walk."""
        ...

    def copy(self, session: Any, r: Range) -> int:
        """Copy ``r`` and mark its checkpoint done, in one transaction; the rows copied."""
        ...


class Pace(Protocol):
    """The throttle as the walk sees it: wait before a range, settle after it."""

    def wait(self, stop: threading.Event, rows: int = 0) -> None: ...

    def settle(self, reserved: int, used: int) -> None: ...

    @property
    def waited(self) -> float:
        """Seconds the rate limit held the work back."""
        ...


@dataclass
class Walk:
    chunker: Chunker
    sizer: ChunkSizer
    pace: Pace
    stop: threading.Event
    workers: int = 1
    parallel: bool = False
    on_rows: Callable[[int], None] = lambda rows: None  # rows copied, after each range
    tick: Callable[[], None] = lambda: None  # progress, called often from the main thread
    on_total: Callable[[int], None] = lambda rows: None  # the table's row count, when read

    def __post_init__(self) -> None:
        self.errors: list[BaseException] = []
        self.last: Key | None = None


def backfill(walk: Walk, store: MigrationStore, record: MigrationRecord) -> tuple[int, float]:
    """Copy every range up to the table's last key at the first run; (rows, seconds)."""
    started = time.monotonic()
    detail = store.get(record.id).detail
    with walk.chunker.session("bluegreen-copy") as session:
        if "max_key" not in detail:
            last, total = walk.chunker.extent(session)
            detail["max_key"] = _json(last) if last is not None else None
            store.update(record, detail=json.dumps(detail), rows_total=total)
            walk.on_total(total)
        walk.last = detail["max_key"]
        if walk.last is None:
            return 0, 0.0  # an empty table: capture covers every row from here on
        if not walk.parallel:
            rows = _walk_inline(walk, session)
            return rows, time.monotonic() - started
    return _walk_threads(walk), time.monotonic() - started


def rate_note(asked: float | None, rows: int, seconds: float, waited: float) -> str | None:
    """Say so when the asked rate was more than the server could copy."""
    if not asked or seconds < 0.05:
        return None
    real = rows / seconds
    if real < 0.9 * asked and waited < 0.1 * seconds:
        return (f"asked for {asked:,.0f} rows/s; the backfill ran at {real:,.0f} rows/s, as "
                "fast as this server copied it (the limit never held it back)")
    return None


def _json(key: Any) -> Key:
    """A key as JSON gives it back (dates and decimals as text), so a resumed run compares
    the same values."""
    return json.loads(json.dumps(list(key), default=str))


def _ranges(walk: Walk, session: Any) -> Iterator[Range]:
    """The ranges to copy: unfinished ones first, then new ones cut from the sizer's size."""
    last = walk.last
    assert last is not None  # an empty table has no ranges
    pending, seq, lo = walk.chunker.checkpoints(session)
    yield from pending
    if lo is not None and lo == last:
        return
    while not walk.stop.is_set():
        size = walk.sizer.size
        boundary = walk.chunker.boundary(session, lo, last, size)
        hi = _json(boundary) if boundary is not None else last
        seq += 1
        r = Range(seq, lo, hi, size)
        if not walk.chunker.checkpoint(session, r):
            return
        yield r
        if boundary is None or hi == last:
            return
        lo = hi


def _copy(walk: Walk, session: Any, r: Range) -> int | None:
    walk.pace.wait(walk.stop, rows=r.planned)
    if walk.stop.is_set():
        walk.pace.settle(r.planned, 0)
        return None
    started = time.monotonic()
    rows = walk.chunker.copy(session, r)
    walk.pace.settle(r.planned, rows)  # charge what was copied, not what was planned
    walk.sizer.observe(rows, time.monotonic() - started)
    return rows


def _walk_inline(walk: Walk, session: Any) -> int:
    total = 0
    for r in _ranges(walk, session):
        rows = _copy(walk, session, r)
        if rows is None:
            break
        total += rows
        walk.on_rows(rows)
        walk.tick()
    return total


def _walk_threads(walk: Walk) -> int:
    work: queue_mod.Queue = queue_mod.Queue(maxsize=max(2, walk.workers * 2))
    done: queue_mod.Queue = queue_mod.Queue()

    def put(item: Range | None) -> None:
        while not walk.stop.is_set():
            try:
                work.put(item, timeout=0.2)
                return
            except queue_mod.Full:
                continue

    def produce() -> None:
        with walk.chunker.session("bluegreen-producer") as session:
            for r in _ranges(walk, session):
                put(r)
            put(None)

    def consume() -> None:
        with walk.chunker.session("bluegreen-worker") as session:
            while not walk.stop.is_set():
                try:
                    item = work.get(timeout=0.2)
                except queue_mod.Empty:
                    continue
                if item is None:
                    work.put(None)  # let the other workers see the end too
                    return
                rows = _copy(walk, session, item)
                if rows is None:
                    return
                done.put(rows)

    def guard(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:  # raised again by the main thread
            walk.errors.append(error)
            walk.stop.set()

    threads = [threading.Thread(target=guard, args=(produce,), name="bluegreen-producer",
                                daemon=True)]
    threads += [threading.Thread(target=guard, args=(consume,), name=f"bluegreen-worker-{i}",
                                 daemon=True) for i in range(max(1, walk.workers))]
    for thread in threads:
        thread.start()
    total = 0
    try:
        while True:
            if walk.errors:
                raise walk.errors[0]
            try:
                while True:
                    rows = done.get_nowait()
                    total += rows
                    walk.on_rows(rows)
            except queue_mod.Empty:
                pass
            if not any(t.is_alive() for t in threads) and done.empty():
                break
            walk.tick()
            time.sleep(0.05)
    except BaseException:
        walk.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        raise
    if walk.errors:
        raise walk.errors[0]
    return total


# ---- the checkpoint log (bluegreen's chunks table), the same on every engine ---------------

def _key(value: Any) -> Key | None:
    """A stored key: decoded already (PostgreSQL's jsonb) or JSON text (SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def checkpoints(db: Db, migration_id: int, size: int) -> tuple[list[Range], int, Key | None]:
    """The chunks a run left unfinished, the last sequence number and the last upper bound."""
    rows = db.rows(sql_for(db, "SELECT seq, lo, hi, done FROM {p}chunks WHERE migration_id = "
                               "? ORDER BY seq"), (migration_id,))
    pending = [Range(r["seq"], _key(r["lo"]), _key(r["hi"]) or [], size)
               for r in rows if not r["done"]]
    return pending, (rows[-1]["seq"] if rows else 0), (_key(rows[-1]["hi"]) if rows else None)


def add_checkpoint(db: Db, migration_id: int, r: Range) -> bool:
    """Record a chunk before it is copied; only while the migration is still copying (an
    abort drops its checkpoints). False when it was not recorded."""
    return db.run(sql_for(db, "INSERT INTO {p}chunks (migration_id, seq, lo, hi) SELECT ?, ?, "
                              "?, ? WHERE EXISTS (SELECT 1 FROM {p}migrations WHERE id = ? AND "
                              "state = 'copying')"),
                  (migration_id, r.seq, json.dumps(r.lo) if r.lo is not None else None,
                   json.dumps(r.hi), migration_id)) == 1
