"""SQLite: the embedded default. The same migration lifecycle as PostgreSQL (state records
with conditional transitions, a shadow table, capture triggers into a queue, a chunked and
throttled backfill, replay, a one-transaction cutover with reverse sync, rollback, finish),
with SQLite's differences kept here:

- the state tables are ``bluegreen_*`` in the main database (no schemas);
- one writer at a time: the cutover's lock is ``BEGIN IMMEDIATE``, and copy uses one worker;
- ``ALTER TABLE`` can add, drop and rename columns but not change a type (use the shadow:
  ``--alter`` may then be a full ``CREATE TABLE`` of the new shape);
- renames run with ``PRAGMA legacy_alter_table=ON`` so that SQLite does not rewrite views,
  triggers and foreign keys of other tables to follow the table out of its name: they keep
  naming the live table, and so point at the new one after cutover;
- indexes cannot be renamed: the new table keeps the ``_bg<id>_`` names of its indexes.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bluegreen.core.state import ACTIVE_STATES, MigrationRecord, MigrationStore, require_active
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.errors import (
    BadAlter,
    BadUrl,
    BluegreenError,
    CutoverRefused,
    LockBusy,
    NoActiveMigration,
    TableRefused,
)
from bluegreen.results import Progress, StatusRow, VerifyResult


def database_path(url: str) -> str:
    from bluegreen.engines.urls import sqlalchemy_url

    parsed = sqlalchemy_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BadUrl(url, "not a SQLite URL")
    if not parsed.database or parsed.database == ":memory:":
        raise BadUrl(url, "give a file: sqlite:///path/to/app.db")
    return parsed.database


def connect(url: str, *, create: bool = False) -> sqlite3.Connection:
    """Open the database file; a missing file is an error unless ``create`` (a typo in the
    path must not quietly make a new, empty database)."""
    path = database_path(url)
    if not Path(path).parent.exists():
        raise BluegreenError(f"the folder {Path(path).parent} of the SQLite database does not "
                             "exist; create it or fix the path in --database-url")
    if not create and not Path(path).exists():
        raise BluegreenError(f"no SQLite database at {Path(path).resolve()}; check the path in "
                             "--database-url (sqlite:///relative/path.db or "
                             "sqlite:////absolute/path.db)")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    try:
        # WAL lets the app read while bluegreen writes. Switching needs the database to
        # itself, so `init` does it while things are quiet; here it is only a best effort.
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass
    return conn


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---- state ------------------------------------------------------------------------------------

@contextmanager
def immediate(conn: sqlite3.Connection):
    """One write transaction: BEGIN IMMEDIATE takes SQLite's write lock up front."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@contextmanager
def open_state(url: str):
    """A connection and its initialized state store, closed afterwards."""
    conn = connect(url)
    try:
        yield conn, sqlite_state.store(conn)
    finally:
        conn.close()


def now() -> str:
    return datetime.utcnow().isoformat() + "+00:00"


def names_for(table: str, migration_id: int) -> tuple[str, str, str]:
    return (f"_bg{migration_id}_{table}_new", f"_bg{migration_id}_{table}_old",
            f"bluegreen_queue_{migration_id}")


# ---- the table --------------------------------------------------------------------------------

def table_sql(conn: sqlite3.Connection, table: str) -> str:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (table,)).fetchone()
    if row is None:
        raise TableRefused(f"table {table} does not exist; check the name with .tables")
    return row[0]


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, type, not null, generated) of each column."""
    out = []
    for _, name, type_, notnull, _, _, hidden in conn.execute(
            f"PRAGMA table_xinfo({q(table)})"):
        out.append((name, type_ or "", bool(notnull), hidden in (2, 3)))
    return out


def primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = [(pk, name) for _, name, _, _, _, pk in conn.execute(f"PRAGMA table_info({q(table)})")
            if pk]
    return [name for _, name in sorted(rows)]


def user_objects(conn: sqlite3.Connection, table: str, kind: str) -> list[tuple[str, str]]:
    """(name, sql) of the table's indexes or triggers, bluegreen's own left out."""
    return [(n, s) for n, s in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT "
        "NULL AND name NOT LIKE 'bluegreen%' AND name NOT LIKE '\\_bg%' ESCAPE '\\'",
        (kind, table))]


def _rename_in_create(sql: str, old: str, new: str) -> str:
    """CREATE TABLE/INDEX ... <old> ... with the table name replaced (first occurrence after
    TABLE or ON)."""
    pattern = re.compile(r'(\b(?:TABLE|ON)\s+)("?)' + re.escape(old) + r'\2(?=\s|\()',
                         re.IGNORECASE)
    return pattern.sub(lambda m: m.group(1) + q(new), sql, count=1)


# ---- copy ---------------------------------------------------------------------------------------

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
            new_keys = ", ".join(f"NEW.{q(k)}" for k in pk)
            old_keys = ", ".join(f"OLD.{q(k)}" for k in pk)
            for event, values in (("INSERT", [new_keys]), ("DELETE", [old_keys]),
                                  ("UPDATE", [old_keys, new_keys])):
                body = " ".join(f"INSERT INTO {q(queue)} ({keys}) VALUES ({v});" for v in values)
                conn.execute(f"CREATE TRIGGER {q(f'bluegreen_capture_{record.id}_{event}')} "
                             f"AFTER {event} ON {q(self.table)} BEGIN {body} END")
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

    def _progress(self, record, phase: str, conn) -> None:
        elapsed = time.monotonic() - self.started
        rate = record.rows_copied / elapsed if elapsed > 0 else 0.0
        remaining = max((record.rows_total or 0) - record.rows_copied, 0)
        self.on_progress(Progress(
            table=self.table, phase=phase, rows_copied=record.rows_copied,
            rows_total=record.rows_total, rows_per_second=rate,
            eta_seconds=remaining / rate if rate else None,
            backlog=backlog(conn, record), rows_replayed=record.rows_replayed,
            chunk_size=record.chunk_size or 0, throttled=None))

    def _backfill(self, conn, state: MigrationStore, record: MigrationRecord, pk: list[str],
                  mapping: tuple[str, str]) -> None:
        from bluegreen.core.pace import ChunkSizer, TokenBucket

        keys = ", ".join(q(k) for k in pk)
        row = ", ".join(q(k) for k in pk)
        marks = ", ".join("?" for _ in pk)
        detail = record.detail
        if "max_key" not in detail:
            top = conn.execute(f"SELECT {keys} FROM {q(self.table)} ORDER BY "
                               f"{', '.join(q(k) + ' DESC' for k in pk)} LIMIT 1").fetchone()
            detail["max_key"] = list(top) if top else None
            total = conn.execute(f"SELECT count(*) FROM {q(self.table)}").fetchone()[0]
            state.update(record, detail=json.dumps(detail), rows_total=total)
        max_key = detail["max_key"]
        if max_key is None:
            return
        last = conn.execute("SELECT seq, hi FROM bluegreen_chunks WHERE migration_id = ? ORDER "
                            "BY seq DESC LIMIT 1", (record.id,)).fetchone()
        seq, lo = (last[0], json.loads(last[1])) if last else (0, None)
        sizer = ChunkSizer(self.options.chunk_size or 5000, self.options.target_chunk_seconds,
                           fixed=self.options.chunk_size is not None)
        bucket = TokenBucket(self.options.throttle.max_rows_per_second)
        last_report = 0.0
        while lo != max_key and not self.stop.is_set():
            while state.get(record.id).paused and not self.stop.is_set():
                self.stop.wait(0.2)
            size = sizer.size
            bucket.take(size, self.stop)
            lower = f"({row}) > ({marks}) AND " if lo is not None else ""
            boundary = conn.execute(
                f"SELECT {keys} FROM {q(self.table)} WHERE {lower}({row}) <= ({marks}) "
                f"ORDER BY {keys} LIMIT 1 OFFSET ?", [*(lo or []), *max_key, size - 1]
            ).fetchone()
            hi = list(boundary) if boundary else max_key
            started = time.monotonic()
            with immediate(conn):
                rows = conn.execute(
                    f"INSERT INTO {q(record.shadow_table)} ({mapping[0]}) SELECT {mapping[1]} "
                    f"FROM {q(self.table)} WHERE {lower}({row}) <= ({marks})",
                    [*(lo or []), *hi]).rowcount
                seq += 1
                conn.execute("INSERT INTO bluegreen_chunks (migration_id, seq, lo, hi, "
                             "rows_copied, done) VALUES (?, ?, ?, ?, ?, 1)",
                             (record.id, seq, json.dumps(lo), json.dumps(hi), rows))
                conn.execute("UPDATE bluegreen_migrations SET rows_copied = rows_copied + ?, "
                             "chunk_size = ? WHERE id = ?", (rows, size, record.id))
            sizer.observe(rows, time.monotonic() - started)
            bucket.settle(size, rows)  # charge what was copied, not what was planned
            lo = hi
            if time.monotonic() - last_report > 0.2:
                last_report = time.monotonic()
                self._progress(state.get(record.id), "backfill", conn)


class _SqliteWork:
    """The steps run_copy asks for, on SQLite: one connection, one writer at a time."""

    def __init__(self, copier: SqliteCopier, record: MigrationRecord) -> None:
        self.copier = copier
        self.conn = copier.conn
        self.record = record
        self.mapping = column_mapping(self.conn, copier.table, record)

    def backfill(self) -> None:
        self.copier._backfill(self.conn, self.copier.store, self.record, self.copier.pk,
                              self.mapping)

    def build_secondary(self) -> None:
        record, table = self.record, self.copier.table
        for name, index_sql in user_objects(self.conn, table, "index"):
            shadow_index = _rename_in_create(index_sql, table, record.shadow_table)
            new_name = q(f"_bg{record.id}_{name}")
            shadow_index = re.sub(r"(INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)\"?" +
                                  re.escape(name) + r"\"?",
                                  lambda m, new=new_name: m.group(1) + new,
                                  shadow_index, count=1, flags=re.IGNORECASE)
            shadow_index = shadow_index.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS",
                                                1).replace(
                "CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX IF NOT EXISTS", 1)
            self.copier.on_event(f"building: {shadow_index[:100]}")
            self.conn.execute(shadow_index)

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
        self.copier._progress(self.copier.store.get(self.record.id), phase, self.conn)

    def close(self) -> None:
        pass


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


# ---- cutover, rollback, finish, abort -------------------------------------------------------

def _capture_triggers(record: MigrationRecord, pk: list[str]) -> list[str]:
    keys = ", ".join(q(k) for k in pk)
    new_keys = ", ".join(f"NEW.{q(k)}" for k in pk)
    old_keys = ", ".join(f"OLD.{q(k)}" for k in pk)
    out = []
    for event, values in (("INSERT", [new_keys]), ("DELETE", [old_keys]),
                          ("UPDATE", [old_keys, new_keys])):
        body = " ".join(f"INSERT INTO {q(record.queue_table)} ({keys}) VALUES ({v});"
                        for v in values)
        out.append(f"CREATE TRIGGER {q(f'bluegreen_capture_{record.id}_{event}')} AFTER {event} "
                   f"ON {q(record.table_name)} BEGIN {body} END")
    return out


def _drop_triggers(prefix: str, record: MigrationRecord) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {q(f'{prefix}_{record.id}_{e}')}"
            for e in ("INSERT", "UPDATE", "DELETE")]


def _reverse_triggers(conn, record: MigrationRecord, pk: list[str], old_table: str,
                      new_table: str) -> tuple[list[str], list[str]]:
    """Triggers on the new live table writing each change to the old table; and the old
    NOT NULL columns without a default that no new column feeds."""
    renames = column_renames(record.alter_sql)
    new_cols = {c[0] for c in columns(conn, new_table)}
    info = {r[1]: r for r in conn.execute(f"PRAGMA table_info({q(old_table)})")}
    targets, values, missing = [], [], []
    for name, _, not_null, generated in columns(conn, old_table):
        if generated:
            continue
        source = renames.get(name, name)
        if source in new_cols:
            targets.append(q(name))
            values.append(f"NEW.{q(source)}")
        elif not_null and info[name][4] is None:
            missing.append(name)
    new_pk = [renames.get(k, k) for k in pk]
    match = " AND ".join(f"{q(o)} = OLD.{q(n)}" for o, n in zip(pk, new_pk, strict=True))
    insert = f"INSERT INTO {q(old_table)} ({', '.join(targets)}) VALUES ({', '.join(values)});"
    delete = f"DELETE FROM {q(old_table)} WHERE {match};"
    out = []
    for event, body in (("INSERT", insert), ("UPDATE", delete + " " + insert),
                        ("DELETE", delete)):
        out.append(f"CREATE TRIGGER {q(f'bluegreen_reverse_{record.id}_{event}')} AFTER {event} "
                   f"ON {q(new_table)} BEGIN {body} END")
    return out, missing


def _switch_statements(conn, record: MigrationRecord, action: str, reverse_sync: bool
                       ) -> list[str]:
    table, shadow, old = record.table_name, record.shadow_table, record.old_table
    # The capture triggers of a rollback go on the old table, keyed by its own columns.
    pk = primary_key(conn, table if action == "cutover" else old)
    user_triggers = user_objects(conn, table, "trigger")
    out = []
    if action == "cutover":
        out += _drop_triggers("bluegreen_capture", record)
    else:
        out += _drop_triggers("bluegreen_reverse", record)
    out += [f"DROP TRIGGER {q(name)}" for name, _ in user_triggers]
    outgoing, incoming = (old, shadow) if action == "cutover" else (shadow, old)
    out.append(f"ALTER TABLE {q(table)} RENAME TO {q(outgoing)}")
    out.append(f"ALTER TABLE {q(incoming)} RENAME TO {q(table)}")
    out += [sql for _, sql in user_triggers]  # "ON <table>" now names the incoming table
    if action == "cutover":
        if reverse_sync:
            # Built against the tables' current names, then pointed at the post-rename ones.
            triggers, _ = _reverse_triggers(conn, record, pk, table, shadow)
            out += [t.replace(f"INTO {q(table)}", f"INTO {q(old)}")
                    .replace(f"FROM {q(table)}", f"FROM {q(old)}")
                    .replace(f"ON {q(shadow)}", f"ON {q(table)}") for t in triggers]
    else:
        out += _capture_triggers(record, pk)
    return out


class SqliteSwitch:
    """SQLite's side of a switch (see bluegreen.engines.postgresql.switch.run_switch): the lock is
    BEGIN IMMEDIATE, renames run with legacy_alter_table, triggers are SQLite's."""

    def __init__(self, conn: sqlite3.Connection, state: MigrationStore) -> None:
        self.conn = conn
        self.store = state

    def table_key(self, table: str) -> str:
        return table

    def now(self) -> str:
        return now()

    def load(self, records: list[MigrationRecord], action: str) -> list:
        from types import SimpleNamespace

        parts = []
        for record in records:
            mapping = (column_mapping(self.conn, record.table_name, record)
                       if action == "cutover" else None)
            parts.append(SimpleNamespace(record=record, mapping=mapping,
                                         pk=primary_key(self.conn, record.table_name)))
        return parts

    def preflight(self, parts, action: str, reverse_sync: bool, warnings: list[str]) -> None:
        for part in parts:
            record = part.record
            if action == "cutover" and reverse_sync:
                _, missing = _reverse_triggers(self.conn, record, part.pk, record.table_name,
                                               record.shadow_table)
                if missing:
                    raise CutoverRefused(
                        f"{record.table_name}: the alter drops NOT NULL column(s) "
                        f"{', '.join(missing)} with no default, so writes after cutover cannot "
                        "be synced back; pass --no-reverse-sync to accept that a rollback then "
                        "loses them")
            if action == "rollback" and not record.detail.get("reverse_sync", True):
                warnings.append(f"{record.table_name} was cut over with --no-reverse-sync: "
                                "writes made since cutover are lost")

    def dry_run(self, parts, action, reverse_sync, warnings, lock_timeout_ms) -> list[str]:
        statements = [s for part in parts
                      for s in _switch_statements(self.conn, part.record, action, reverse_sync)]
        return ["PRAGMA legacy_alter_table = ON", "BEGIN IMMEDIATE", *statements, "COMMIT"]

    def catch_up(self, parts) -> None:
        for part in parts:
            while backlog(self.conn, part.record) > 100:
                replay(self.conn, part.record, part.pk, part.mapping)

    @contextmanager
    def locked(self, parts, lock_timeout_ms: int):
        self.conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
        self.conn.execute("PRAGMA legacy_alter_table = ON")
        try:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    raise LockBusy() from None
                raise
            try:
                yield "BEGIN IMMEDIATE"
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        finally:
            self.conn.execute("PRAGMA legacy_alter_table = OFF")
            self.conn.execute("PRAGMA busy_timeout = 30000")

    def drain_locked(self, parts) -> None:
        for part in parts:
            while replay(self.conn, part.record, part.pk, part.mapping, in_transaction=True):
                pass

    def switch_statements(self, part, action: str, reverse_sync: bool,
                          warnings: list[str]) -> tuple[list[str], list[str]]:
        return _switch_statements(self.conn, part.record, action, reverse_sync), []

    def execute(self, statement: str, action: str, part) -> None:
        try:
            self.conn.execute(statement)
        except sqlite3.Error as error:
            raise CutoverRefused(f"{action} failed and changed nothing: {error} (in: "
                                 f"{statement[:120]})") from None

    def execute_after_commit(self, statement: str) -> None:
        self.conn.execute(statement)

    def after_rollback(self, part) -> None:
        record = part.record
        if not record.detail.get("reverse_sync", True):
            # The new table has rows the old one lacks: re-sync them by replay.
            keys = ", ".join(q(k) for k in primary_key(self.conn, record.table_name))
            self.conn.execute(f"INSERT INTO {q(record.queue_table)} ({keys}) SELECT {keys} "
                              f"FROM {q(record.shadow_table)}")


@contextmanager
def switch_engine(url: str):
    """A SqliteSwitch on an open connection, for bluegreen.engines.postgresql.switch.run_switch."""
    with open_state(url) as (conn, state):
        yield SqliteSwitch(conn, state)


def finish(url: str, tables: list[str], *, dry_run: bool = False, **_):
    with open_state(url) as (conn, state):
        records = require_active(state, tables, ("cut_over",), "finish", "nothing to finish")
        statements = [s for r in records for s in (
            _drop_triggers("bluegreen_reverse", r)
            + [f"DROP TABLE IF EXISTS {q(r.old_table)}",
               f"DROP TABLE IF EXISTS {q(r.queue_table)}"])]
        if dry_run:
            return records, statements
        with immediate(conn):
            for statement in statements:
                conn.execute(statement)
            for record in records:
                conn.execute("DELETE FROM bluegreen_chunks WHERE migration_id = ?", (record.id,))
                state.transition(record, ("cut_over",), "finished", "finish", finished_at=now())
        return [state.get(r.id) for r in records], statements


def abort(url: str, table: str, *, dry_run: bool = False, **_):
    with open_state(url) as (conn, state):
        (record,) = require_active(state, [table], ("copying", "synced", "rolled_back"),
                                   "abort", "nothing to abort")
        statements = _drop_triggers("bluegreen_capture", record) + [
            f"DROP TABLE IF EXISTS {q(record.shadow_table)}",
            f"DROP TABLE IF EXISTS {q(record.queue_table)}"]
        if dry_run:
            return record, statements
        with immediate(conn):
            for statement in statements:
                conn.execute(statement)
            conn.execute("DELETE FROM bluegreen_chunks WHERE migration_id = ?", (record.id,))
            record = state.transition(record, ("copying", "synced", "rolled_back"), "aborted",
                                      "abort", finished_at=now())
        return record, statements


def status(url: str, table: str | None):
    with open_state(url) as (conn, state):
        if table:
            record = state.active(table) or state.latest(table)
            if record is None:
                raise NoActiveMigration(table, "start one with `bluegreen copy`")
            records = [record]
        else:
            records = state.all_recent()
        return [StatusRow(r, backlog(conn, r) if r.state in ACTIVE_STATES else None)
                for r in records]


def set_paused(url: str, table: str, paused: bool) -> MigrationRecord:
    conn = connect(url)
    try:
        return sqlite_state.store(conn).set_paused(table, paused)
    finally:
        conn.close()


# ---- verify -----------------------------------------------------------------------------------

def verify(url: str, table: str, *, repair: bool = False, chunk_rows: int = 10_000):
    """Compare live and shadow chunk by chunk inside one read transaction (a snapshot in WAL
    mode), leaving out keys still queued; with repair, queue the differing ranges and
    replay them."""
    with open_state(url) as (conn, state):
        (record,) = require_active(state, [table], ("copying", "synced", "rolled_back"),
                                   "verify", "nothing to verify")
        if not record.backfill_done:
            raise BluegreenError(f"the backfill of {table} is not finished; run `bluegreen "
                                 "copy` until it is synced, then verify")
        pk = primary_key(conn, table)
        targets, sources = column_mapping(conn, table, record)
        keys = ", ".join(q(k) for k in pk)
        renames = column_renames(record.alter_sql)
        shadow_keys = ", ".join(q(renames.get(k, k)) for k in pk)
        queued = f"({keys}) NOT IN (SELECT {keys} FROM {q(record.queue_table)})"
        shadow_queued = (f"({shadow_keys}) NOT IN (SELECT {keys} FROM "
                         f"{q(record.queue_table)})")
        result = VerifyResult(table, 0, 0, 0)
        conn.execute("BEGIN")
        try:
            lo = None
            while True:
                lower = f"({keys}) > ({', '.join('?' for _ in pk)}) AND " if lo else ""
                row = conn.execute(f"SELECT {keys} FROM {q(table)} WHERE {lower}1 ORDER BY "
                                   f"{keys} LIMIT 1 OFFSET ?", [*(lo or []), chunk_rows - 1]
                                   ).fetchone()
                hi = list(row) if row else None
                upper = f" AND ({keys}) <= ({', '.join('?' for _ in pk)})" if hi else ""
                s_lower = lower.replace(f"({keys})", f"({shadow_keys})")
                s_upper = upper.replace(f"({keys})", f"({shadow_keys})")
                bounds = [*(lo or []), *(hi or [])]
                live_rows = conn.execute(
                    f"SELECT {sources} FROM {q(table)} WHERE {lower}{queued}{upper} ORDER BY "
                    f"{keys}", bounds).fetchall()
                shadow_rows = conn.execute(
                    f"SELECT {targets} FROM {q(record.shadow_table)} WHERE {s_lower}"
                    f"{shadow_queued}{s_upper} ORDER BY {shadow_keys}", bounds).fetchall()
                result.ranges += 1
                result.rows_live += len(live_rows)
                result.rows_shadow += len(shadow_rows)
                if live_rows != shadow_rows:
                    result.differing.append((lo, hi))
                if hi is None:
                    break
                lo = hi
        finally:
            conn.execute("COMMIT")
        if repair and result.differing:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for lo, hi in result.differing:
                    lower = f"({keys}) > ({', '.join('?' for _ in pk)})" if lo else "1"
                    upper = f" AND ({keys}) <= ({', '.join('?' for _ in pk)})" if hi else ""
                    bounds = [*(lo or []), *(hi or [])]
                    s_lower = lower.replace(f"({keys})", f"({shadow_keys})")
                    s_upper = upper.replace(f"({keys})", f"({shadow_keys})")
                    result.repaired_keys += conn.execute(
                        f"INSERT INTO {q(record.queue_table)} ({keys}) SELECT {keys} FROM "
                        f"{q(table)} WHERE {lower}{upper} UNION SELECT {shadow_keys} FROM "
                        f"{q(record.shadow_table)} WHERE {s_lower}{s_upper}",
                        bounds + bounds).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            mapping = (targets, sources)
            while replay(conn, record, pk, mapping):
                pass
        return result


def dry_run_statements(url: str, table: str, alter_sql: str) -> list[str]:
    """The statements `bluegreen copy` runs on SQLite, in order, with placeholders for the
    migration id and chunk bounds. Reads the schema; changes nothing."""
    from types import SimpleNamespace

    conn = connect(url)
    try:
        live_sql = table_sql(conn, table)
        pk = primary_key(conn, table)
        shadow, _, queue = (n.replace("_bg0_", "_bg<id>_").replace("queue_0", "queue_<id>")
                            for n in names_for(table, 0))
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
            name, f"_bg<id>_{name}", 1) for name, sql in user_objects(conn, table, "index")]
        return [
            "BEGIN IMMEDIATE",
            "INSERT INTO bluegreen_migrations (table_name, alter_sql, state, ...) VALUES (...)",
            *create,
            f"CREATE TABLE {q(queue)} (bg_seq INTEGER PRIMARY KEY AUTOINCREMENT, {keys})",
            *_capture_triggers(fake, pk),  # type: ignore[arg-type]
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
