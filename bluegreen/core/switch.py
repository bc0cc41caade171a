"""The switch: cutover and rollback, the same steps on every engine.

Every table named switches in one transaction, under the lock timeout: catch up without
locks, take the locks (the engine knows in which order and how), drain what is left of the
queue, run the engine's statements (rename live -> old and shadow -> live, move what follows
the table, reverse sync), record the new state; a lock wait over the timeout rolls all of it
back and retries after a pause that grows. After the commit: what the engine left to do
without strong locks (PostgreSQL: validate the foreign keys it re-created NOT VALID).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from bluegreen.core.retry import DEFAULT_BACKOFF, Backoff
from bluegreen.core.state import MigrationRecord, MigrationStore, already_in, require_active
from bluegreen.errors import BluegreenError, LockBusy
from bluegreen.results import SwitchResult


class SwitchEngine(Protocol):
    """An engine's side of a switch. ``part`` is the engine's own description of one
    table's switch (its ``record`` is the migration)."""

    store: MigrationStore

    def table_key(self, table: str) -> str: ...

    def now(self) -> Any: ...

    def load(self, records: list[MigrationRecord], action: str) -> list[Any]: ...

    def preflight(self, parts: list[Any], action: str, reverse_sync: bool,
                  warnings: list[str]) -> None: ...

    def dry_run(self, parts: list[Any], action: str, reverse_sync: bool, warnings: list[str],
                lock_timeout_ms: int) -> list[str]: ...

    def catch_up(self, parts: list[Any]) -> None: ...

    def locked(self, parts: list[Any], lock_timeout_ms: int) -> AbstractContextManager[str]:
        """The switch's transaction with its locks taken (LockBusy when they are not granted
        in time); yields the lock statement, for the record."""
        ...

    def drain_locked(self, parts: list[Any]) -> None: ...

    def switch_statements(self, part: Any, action: str, reverse_sync: bool,
                          warnings: list[str]) -> tuple[list[str], list[Any]]: ...

    def execute(self, statement: str, action: str, part: Any) -> None: ...

    def pending_after(self, parts: list[Any], after: list[Any]) -> list[Any]:
        """What to do after the commit (from what switch_statements said)."""
        ...

    def detail_updates(self, part: Any) -> dict[str, Any]: ...

    def committed(self) -> None: ...

    def execute_after_commit(self, item: Any) -> str | None: ...

    def after_rollback(self, part: Any) -> None: ...


def run_switch(engine: SwitchEngine, tables: list[str], action: str, *,
               lock_timeout_ms: int = 500, retries: int = 10, reverse_sync: bool = True,
               dry_run: bool = False, on_event: Callable[[str], None] | None = None,
               backoff: Backoff = DEFAULT_BACKOFF) -> SwitchResult:
    """cutover (synced or rolled_back -> cut_over) or rollback (cut_over -> rolled_back) of
    every table named, in one transaction; the same steps on every engine, whose
    differences (locking, catalog, trigger SQL) the ``engine`` holds."""
    on_event = on_event or (lambda message: None)
    store = engine.store
    wanted = ("synced", "rolled_back") if action == "cutover" else ("cut_over",)
    verb = "cut over" if action == "cutover" else "roll back"
    records = require_active(store, [engine.table_key(t) for t in tables], wanted, verb)
    warnings: list[str] = []
    parts = engine.load(records, action)
    engine.preflight(parts, action, reverse_sync, warnings)
    names = [r.table_name for r in records]
    if dry_run:
        return SwitchResult(names, action, 0.0, 0,
                            engine.dry_run(parts, action, reverse_sync, warnings,
                                           lock_timeout_ms), warnings, records)
    if action == "cutover":
        for part in parts:
            on_event(f"catching up {part.record.table_name} without locks")
        engine.catch_up(parts)
    attempts = 0
    while True:
        attempts += 1
        executed: list[str] = []
        after: list = []
        try:
            with engine.locked(parts, lock_timeout_ms) as lock_statement:
                locked_at = time.perf_counter()
                executed.append(lock_statement)
                if action == "cutover":
                    engine.drain_locked(parts)  # nothing can write now: the queue's end
                for part in parts:
                    body, post = engine.switch_statements(part, action, reverse_sync, warnings)
                    for statement in body:
                        engine.execute(statement, action, part)
                    executed += body
                    after += post
                after = engine.pending_after(parts, after)
                for part in parts:
                    detail = dict(part.record.detail, pending_validation=list(after),
                                  **engine.detail_updates(part))
                    if action == "cutover":
                        detail["reverse_sync"] = reverse_sync
                        store.transition(part.record, wanted, "cut_over", verb,
                                         cut_over_at=engine.now(), detail=json.dumps(detail))
                    else:
                        store.transition(part.record, wanted, "rolled_back", verb,
                                         detail=json.dumps(detail))
                        engine.after_rollback(part)
            # From the lock granted to the commit: how long the app's writes were blocked.
            lock_ms = (time.perf_counter() - locked_at) * 1000
            break
        except LockBusy:
            if attempts > retries:
                raise BluegreenError(
                    f"{action} gave up after {attempts} attempts: another session held a lock "
                    f"on {', '.join(names)} for over {lock_timeout_ms} ms each time; nothing "
                    "was changed. Retry later or raise --lock-timeout / --retries") from None
            delay = backoff.delay(attempts)
            on_event(f"lock wait over {lock_timeout_ms} ms; retrying in {delay:.2f}s "
                     f"({attempts}/{retries})")
            time.sleep(delay)
    engine.committed()
    for item in after:
        validated = engine.execute_after_commit(item)
        if validated:
            on_event(f"validated: {validated}")
            executed.append(statement)
    for record in records:
        detail = dict(store.get(record.id).detail, pending_validation=[])
        store.update(record, lock_ms=lock_ms, detail=json.dumps(detail))
    return SwitchResult(names, action, lock_ms, attempts, executed, warnings,
                        [store.get(r.id) for r in records])


def switch(engine: Any, tables: list[str], action: str, *, accept_loss: bool = False,
           dry_run: bool = False, **options: Any) -> SwitchResult:
    """cutover or rollback of ``tables`` on ``engine`` (a bluegreen Engine).

    A cutover killed after its commit but before what it left for after the commit (its
    foreign-key validations) is finished here, and reported as done."""
    switcher = engine.switcher(accept_loss=accept_loss)
    if action == "cutover" and not dry_run:
        done = _finish_pending(switcher, tables)
        if done is not None:
            return done
    if not dry_run:
        done = _already_done(switcher, tables, action)
        if done is not None:
            return done
    return run_switch(switcher, tables, action, dry_run=dry_run, **options)


_DONE = {"cutover": "cut_over", "rollback": "rolled_back"}


def _already_done(engine: SwitchEngine, tables: list[str], action: str) -> SwitchResult | None:
    """Every table named already switched this way (a pipeline running the step again):
    nothing to do, and said so. A mix of states goes on to the usual refusal."""
    records = already_in(engine.store, [engine.table_key(t) for t in tables], _DONE[action])
    if records is None:
        return None
    return SwitchResult([r.table_name for r in records], action, 0.0, 0, [], [], records,
                        already=True)


def _finish_pending(engine: SwitchEngine, tables: list[str]) -> SwitchResult | None:
    store = engine.store
    records = [store.active(engine.table_key(t)) for t in tables]
    if not records or any(r is None or r.state != "cut_over" or
                          not r.detail.get("pending_validation") for r in records):
        return None
    for record in records:
        assert record is not None
        for item in record.detail["pending_validation"]:
            engine.execute_after_commit(item)
        store.update(record, detail=json.dumps(dict(record.detail, pending_validation=[])))
    return SwitchResult([r.table_name for r in records if r], "cutover", 0.0, 0, [],
                        ["already cut over; validated the foreign keys left pending"],
                        [store.get(r.id) for r in records if r])
