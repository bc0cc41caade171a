"""The copy on SQLite (its lifecycle is bluegreen.core.copy): the shadow from the live
table's CREATE TABLE (or the --alter's own CREATE TABLE), capture triggers, a chunked and
throttled backfill with one writer, replay of the captured keys."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from bluegreen.core import naming
from bluegreen.core.backfill import Range, Walk, add_checkpoint, backfill, checkpoints
from bluegreen.core.pace import ChunkSizer
from bluegreen.core.progress import Meter, building_note
from bluegreen.core.state import MigrationRecord, MigrationStore
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.engines.sqlite import throttle as sqlite_throttle
from bluegreen.engines.sqlite.capture import capture_triggers
from bluegreen.engines.sqlite.catalog import (
    _rename_in_create,
    columns,
    connect,
    names_for,
    now,
    primary_key,
    q,
    table_sql,
    user_objects,
)
from bluegreen.errors import BadAlter, BluegreenError, CopyAborted, TableRefused
from bluegreen.results import Progress


class SqliteCopier:
    def __init__(self, url: str, table: str, alter_sql: str | None, options,
                 on_progress: Callable | None = None, on_event: Callable | None = None) -> None:
        self.url = url
        self.table = table
        self.alter_sql = alter_sql
        self.options = options
        self.on_progress = on_progress or (lambda p: None)
        self.on_event = on_event or (lambda m: None)
        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    def explain(self, error: sqlite3.Error) -> BluegreenError:
        """One line for a database error that stopped the copy: an abort made meanwhile
        (which dropped the shadow under it), else the error itself."""
        record = self.store.latest(self.table)
        if record is not None and record.state == "aborted":
            return CopyAborted(self.table)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return BluegreenError(f"the copy of {self.table} stopped on a database error: "
                              f"{detail}; run the same command again to resume, or "
                              f"`bluegreen abort {self.table}` to drop it")

    def __enter__(self) -> SqliteCopier:
        """Open the engine for run_copy (bluegreen.core.copy)."""
        self.started = time.monotonic()
        self.warnings: list[str] = []
        self.conn = connect(self.url)
        try:
            self.store = sqlite_state.store(self.conn)
        except BaseException:
            self.conn.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    # ---- the engine's side of run_copy ----------------------------------------------------

    @property
    def key(self) -> str:
        return self.table

    def now(self) -> str:
        return now()

    def inspect(self) -> None:
        self.live_sql = table_sql(self.conn, self.table)
        self.pk = primary_key(self.conn, self.table)
        if not self.pk:
            raise TableRefused(f"{self.table} has no primary key; bluegreen needs one to "
                               "copy in chunks and replay changes: add one first")

    def create(self, alter_sql: str) -> MigrationRecord:
        self.alter_sql = alter_sql
        return self._create(self.conn, self.store, self.live_sql, self.pk)

    def open(self, record: MigrationRecord) -> _SqliteWork:
        return _SqliteWork(self, record)

    def _create(self, conn, state: MigrationStore, live_sql: str, pk: list[str]) -> MigrationRecord:
        conn.execute("BEGIN IMMEDIATE")
        try:
            record = state.create(self.table, self.alter_sql or "")
            shadow, old, queue = names_for(self.table, record.id)
            state.update(record, shadow_table=shadow, old_table=old, queue_table=queue)
            record = state.get(record.id)
            shadow, _, queue = record.shadow_table, record.old_table, record.queue_table
            alter = (self.alter_sql or "").strip()
            try:
                if alter.upper().startswith("CREATE TABLE"):
                    conn.execute(_rename_in_create(alter, self.table, shadow))
                else:
                    conn.execute(_rename_in_create(live_sql, self.table, shadow))
                    for statement in [s for s in alter.split(";") if s.strip()]:
                        if not re.match(r"\s*ALTER\s+TABLE\s+\"?" + re.escape(self.table)
                                        + r"\"?\s", statement, re.IGNORECASE):
                            raise BadAlter(f"--alter may only hold ALTER TABLE {self.table} "
                                           "... statements (or one CREATE TABLE of the new "
                                           "shape)")
                        conn.execute(re.sub(r"(ALTER\s+TABLE\s+)\"?" + re.escape(self.table)
                                            + r"\"?", lambda m: m.group(1) + q(shadow),
                                            statement, count=1, flags=re.IGNORECASE))
            except sqlite3.Error as error:
                raise BadAlter(f"the new shape does not build: {error}; fix --alter") from None
            keys = ", ".join(q(k) for k in pk)
            conn.execute(f"CREATE TABLE {q(queue)} (bg_seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         f"{keys})")
            for trigger in capture_triggers(record, pk):
                conn.execute(trigger)
            mapping = column_mapping(conn, self.table, record)
            try:
                conn.execute("SAVEPOINT bluegreen_trial")
                conn.execute(f"INSERT INTO {q(shadow)} ({mapping[0]}) SELECT {mapping[1]} FROM "
                             f"{q(self.table)} LIMIT 100")
            except sqlite3.Error as error:
                raise BadAlter(f"existing rows do not fit the new shape: {error}; fix "
                               "--alter") from None
            finally:
                conn.execute("ROLLBACK TO bluegreen_trial")
                conn.execute("RELEASE bluegreen_trial")
            conn.execute("COMMIT")
            return state.get(record.id)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

class _SqliteWork:
    """The steps run_copy asks for, on SQLite: one connection, one writer at a time; the
    backfill is core's walk over this Chunker, in one loop."""

    def __init__(self, copier: SqliteCopier, record: MigrationRecord) -> None:
        self.copier = copier
        self.conn = copier.conn
        self.store = copier.store
        self.record = record
        self.table = copier.table
        self.mapping = column_mapping(self.conn, copier.table, record)
        pk = copier.pk
        self.keys = ", ".join(q(k) for k in pk)
        self.row = f"({self.keys})"
        self.marks = f"({', '.join('?' for _ in pk)})"
        options = copier.options
        self.sizer = ChunkSizer(options.chunk_size or 5000, options.target_chunk_seconds,
                                fixed=options.chunk_size is not None)
        self.throttle = sqlite_throttle.throttle(copier.url, options.throttle, record.id,
                                                 copier.table, copier.stop).start()
        if self.throttle.fatal is not None:
            raise self.throttle.fatal
        self.meter = Meter(every=0.2)
        self.phase = "backfill"

    def backfill(self) -> None:
        walk = Walk(self, self.sizer, self.throttle, self.copier.stop,
                    tick=lambda: self._report())
        backfill(walk, self.store, self.record)
        if self.throttle.fatal is not None:
            raise self.throttle.fatal

    def build_secondary(self) -> None:
        record, table = self.record, self.copier.table
        for name, index_sql in user_objects(self.conn, table, "index"):
            shadow_index = _rename_in_create(index_sql, table, record.shadow_table)
            new_name = q(naming.built(record.id, name))
            shadow_index = re.sub(r"(INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)\"?" +
                                  re.escape(name) + r"\"?",
                                  lambda m: m.group(1) + new_name,  # noqa: B023 - used at once
                                  shadow_index, count=1, flags=re.IGNORECASE)
            shadow_index = shadow_index.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS",
                                                1).replace(
                "CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS", 1)
            self.copier.on_event(building_note(shadow_index))
            self.conn.execute(shadow_index)
        self.phase = "replay"

    def drain(self) -> int:
        total = 0
        while True:
            taken = replay(self.conn, self.record, self.copier.pk, self.mapping)
            total += taken
            if taken < 5000:
                return total

    def backlog(self) -> int:
        return backlog(self.conn, self.record)

    def report(self, phase: str) -> None:
        self.phase = phase
        self._report(force=True)

    def _report(self, force: bool = False) -> None:
        if not self.meter.due(force):
            return
        record = self.store.get(self.record.id)
        rate = self.meter.rate(record.rows_copied)
        self.copier.on_progress(Progress(
            table=self.table, phase=self.phase, rows_copied=record.rows_copied,
            rows_total=record.rows_total, rows_per_second=rate,
            eta_seconds=self.meter.eta(record.rows_copied, record.rows_total, rate),
            backlog=self.backlog(), rows_replayed=record.rows_replayed,
            chunk_size=self.sizer.size, throttled=self.throttle.reason,
            rate_limit=self.copier.options.throttle.max_rows_per_second))

    def close(self) -> None:
        self.throttle.stop()

    # ---- the Chunker the backfill walks with (bluegreen.core.backfill) ---------------------

    def session(self, role: str) -> AbstractContextManager[sqlite3.Connection]:
        return nullcontext(self.conn)

    def extent(self, conn: sqlite3.Connection) -> tuple[list | None, int]:
        desc = ", ".join(q(k) + " DESC" for k in self.copier.pk)
        top = conn.execute(f"SELECT {self.keys} FROM {q(self.table)} ORDER BY {desc} "
                           "LIMIT 1").fetchone()
        total = conn.execute(f"SELECT count(*) FROM {q(self.table)}").fetchone()[0]
        return (list(top) if top else None), total

    def checkpoints(self, conn: sqlite3.Connection) -> tuple[list[Range], int, list | None]:
        return checkpoints(sqlite_state.SqliteDb(conn), self.record.id, self.sizer.size)

    def boundary(self, conn: sqlite3.Connection, lo, last, size: int) -> list | None:
        lower = f"{self.row} > {self.marks} AND " if lo is not None else ""
        row = conn.execute(f"SELECT {self.keys} FROM {q(self.table)} WHERE {lower}{self.row} "
                           f"<= {self.marks} ORDER BY {self.keys} LIMIT 1 OFFSET ?",
                           [*(lo or []), *last, size - 1]).fetchone()
        return list(row) if row else None

    def checkpoint(self, conn: sqlite3.Connection, r: Range) -> bool:
        return add_checkpoint(sqlite_state.SqliteDb(conn), self.record.id, r)

    def copy(self, conn: sqlite3.Connection, r: Range) -> int:
        lower = f"{self.row} > {self.marks} AND " if r.lo is not None else ""
        with sqlite_state.SqliteDb(conn).transaction():
            rows = conn.execute(
                f"INSERT INTO {q(self.record.shadow_table)} ({self.mapping[0]}) SELECT "
                f"{self.mapping[1]} FROM {q(self.table)} WHERE {lower}{self.row} <= "
                f"{self.marks}", [*(r.lo or []), *r.hi]).rowcount
            conn.execute("UPDATE bluegreen_chunks SET done = 1, rows_copied = ? WHERE "
                         "migration_id = ? AND seq = ? AND NOT done",
                         (rows, self.record.id, r.seq))
            conn.execute("UPDATE bluegreen_migrations SET rows_copied = rows_copied + ?, "
                         "chunk_size = ? WHERE id = ?", (rows, r.planned, self.record.id))
        return rows


def column_renames(alter_sql: str) -> dict[str, str]:
    """old name -> new name for each RENAME COLUMN in an alter."""
    return dict(re.findall(r'RENAME\s+(?:COLUMN\s+)?"?(\w+)"?\s+TO\s+"?(\w+)"?', alter_sql,
                           re.IGNORECASE))


def column_mapping(conn, table: str, record: MigrationRecord) -> tuple[str, str]:
    """(shadow columns, select list over the live row) for columns both tables have, with
    RENAME COLUMN in the alter mapping the old name to the new."""
    renames = column_renames(record.alter_sql)
    live = {c[0]: c for c in columns(conn, table)}
    targets, sources = [], []
    for name, _, _, generated in columns(conn, record.shadow_table):
        if generated:
            continue
        source = next((old for old, new in renames.items() if new == name), name)
        if source in live and not live[source][3]:
            targets.append(q(name))
            sources.append(q(source))
    return ", ".join(targets), ", ".join(sources)


def backlog(conn, record: MigrationRecord) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                          (record.queue_table,)).fetchone()
    if not exists:
        return 0
    return conn.execute(f"SELECT count(*) FROM {q(record.queue_table)}").fetchone()[0]


def replay(conn, record: MigrationRecord, pk: list[str], mapping: tuple[str, str],
           limit: int = 5000, in_transaction: bool = False) -> int:
    """Re-sync one batch of queued keys from the live table, in one transaction."""
    keys = ", ".join(q(k) for k in pk)
    row = f"({keys})"
    queue, shadow, live = q(record.queue_table), q(record.shadow_table), q(record.table_name)
    if not in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS bluegreen_keys AS SELECT "
                     f"{keys} FROM {queue} WHERE 0")
        conn.execute("DELETE FROM temp.bluegreen_keys")
        taken = conn.execute(f"INSERT INTO temp.bluegreen_keys SELECT DISTINCT {keys} FROM "
                             f"(SELECT {keys} FROM {queue} ORDER BY bg_seq LIMIT ?)",
                             (limit,)).rowcount
        conn.execute(f"DELETE FROM {queue} WHERE bg_seq IN (SELECT bg_seq FROM {queue} ORDER "
                     "BY bg_seq LIMIT ?)", (limit,))
        if taken:
            conn.execute(f"DELETE FROM {shadow} WHERE {row} IN (SELECT {keys} FROM "
                         "temp.bluegreen_keys)")
            conn.execute(f"INSERT INTO {shadow} ({mapping[0]}) SELECT {mapping[1]} FROM {live} "
                         f"WHERE {row} IN (SELECT {keys} FROM temp.bluegreen_keys)")
            conn.execute("UPDATE bluegreen_migrations SET rows_replayed = rows_replayed + ? "
                         "WHERE id = ?", (taken, record.id))
        if not in_transaction:
            conn.execute("COMMIT")
    except BaseException:
        if not in_transaction:
            conn.execute("ROLLBACK")
        raise
    return taken


def dry_run_statements(url: str, table: str, alter_sql: str) -> list[str]:
    """The statements `bluegreen copy` runs on SQLite, in order, with placeholders for the
    migration id and chunk bounds. Reads the schema; changes nothing."""
    from types import SimpleNamespace

    conn = connect(url)
    try:
        live_sql = table_sql(conn, table)
        pk = primary_key(conn, table)
        shadow, _, queue = names_for(table, naming.DRY_RUN_ID)
        keys = ", ".join(q(k) for k in pk)
        alter = alter_sql.strip()
        if alter.upper().startswith("CREATE TABLE"):
            create = [_rename_in_create(alter, table, shadow)]
        else:
            create = [_rename_in_create(live_sql, table, shadow)] + [
                re.sub(r"(ALTER\s+TABLE\s+)\"?" + re.escape(table) + r"\"?",
                       lambda m: m.group(1) + q(shadow), s.strip(), count=1,
                       flags=re.IGNORECASE) for s in alter.split(";") if s.strip()]
        fake = SimpleNamespace(id="<id>", queue_table=queue, table_name=table)
        marks = ", ".join("?" for _ in pk)
        indexes = [_rename_in_create(sql, table, shadow).replace(
            name, naming.built(naming.DRY_RUN_ID, name), 1)
            for name, sql in user_objects(conn, table, "index")]
        return [
            "BEGIN IMMEDIATE",
            "INSERT INTO bluegreen_migrations (table_name, alter_sql, state, ...) VALUES (...)",
            *create,
            f"CREATE TABLE {q(queue)} (bg_seq INTEGER PRIMARY KEY AUTOINCREMENT, {keys})",
            *capture_triggers(fake, pk),  # type: ignore[arg-type]
            "COMMIT",
            "-- each chunk, one transaction (BEGIN IMMEDIATE ... COMMIT):",
            f"INSERT INTO {q(shadow)} (...) SELECT ... FROM {q(table)} WHERE ({keys}) > "
            f"({marks}) AND ({keys}) <= ({marks})",
            "INSERT INTO bluegreen_chunks (migration_id, seq, lo, hi, rows_copied, done) "
            "VALUES (?, ?, ?, ?, ?, 1)",
            "-- after the backfill:",
            *indexes,
            "-- replay, one transaction per batch of captured keys:",
            f"DELETE FROM {q(shadow)} WHERE ({keys}) IN (SELECT {keys} FROM "
            "temp.bluegreen_keys)",
            f"INSERT INTO {q(shadow)} (...) SELECT ... FROM {q(table)} WHERE ({keys}) IN "
            f"(SELECT {keys} FROM temp.bluegreen_keys)",
            "UPDATE bluegreen_migrations SET state = 'synced' WHERE id = ? AND state = "
            "'copying'",
        ]
    finally:
        conn.close()
