"""SQLite, the embedded default, as a bluegreen Engine: one connection (autocommit, WAL);
one writer at a time, so a lock timeout is a busy timeout around BEGIN IMMEDIATE."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bluegreen.core.state import ACTIVE_STATES, MigrationRecord, MigrationStore
from bluegreen.engines import urls
from bluegreen.engines.base import Capabilities
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.engines.sqlite.catalog import connect, now
from bluegreen.errors import BluegreenError, LockBusy


class SqliteEngine:
    name = "sqlite"
    capabilities = Capabilities(concurrent_index=False, transactional_ddl=True,
                                lock_timeout=False, throttle_signals=False,
                                parallel_copy=False, table_identity=False)

    def __init__(self, url: str, application: str = "bluegreen") -> None:
        self.url = url
        self.conn = connect(url)
        self._store: MigrationStore | None = None

    # ---- the session -------------------------------------------------------------------------

    @property
    def store(self) -> MigrationStore:
        if self._store is None:
            self._store = sqlite_state.store(self.conn)
        return self._store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SqliteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table_key(self, table: str) -> str:
        return table

    def now(self) -> Any:
        return now()

    def backlog(self, record: MigrationRecord) -> int | None:
        from bluegreen.engines.sqlite.copy import backlog

        return backlog(self.conn, record) if record.state in ACTIVE_STATES else None

    def notify_control(self) -> None:
        """Nothing to wake: a SQLite copy reads its state between chunks."""

    # ---- copy ---------------------------------------------------------------------------------

    def copy(self, table: str, alter_sql: str | None, options: Any,
             on_progress: Callable[[Any], None] | None,
             on_event: Callable[[str], None] | None) -> Any:
        from bluegreen.core.copy import run_copy
        from bluegreen.engines.sqlite.copy import SqliteCopier

        with SqliteCopier(self.url, table, alter_sql, options, on_progress=on_progress,
                          on_event=on_event) as copier:
            try:
                return run_copy(copier, alter_sql, options, copier.on_event)
            except sqlite3.Error as error:
                raise copier.explain(error) from None

    def copy_dry_run(self, table: str, alter_sql: str) -> list[str]:
        from bluegreen.engines.sqlite.copy import dry_run_statements

        return dry_run_statements(self.url, table, alter_sql)

    # ---- identity, verify --------------------------------------------------------------------

    def check_identity(self, record: MigrationRecord, action: str) -> None:
        """SQLite tables have no identity beyond their names (see Capabilities)."""

    def tables_replaced(self, record: MigrationRecord) -> bool:
        return False

    @contextmanager
    def verifier(self, record: MigrationRecord) -> Iterator[Any]:
        from bluegreen.engines.sqlite.verify import SqliteVerifier

        yield SqliteVerifier(self.conn, record)

    # ---- abort, finish -------------------------------------------------------------------------

    def abort_statements(self, record: MigrationRecord) -> list[str]:
        from bluegreen.engines.sqlite.switch import abort_statements

        return abort_statements(record)

    def finish_statements(self, records: list[MigrationRecord]) -> list[str]:
        from bluegreen.engines.sqlite.switch import finish_statements

        return finish_statements(records)

    def finish_locks(self, records: list[MigrationRecord]) -> list[str]:
        return []  # BEGIN IMMEDIATE is the one lock

    def before_finish(self, records: list[MigrationRecord]) -> None:
        """Nothing is left pending after a SQLite cutover."""

    @contextmanager
    def transaction(self, lock_timeout_ms: int, locks: Sequence[str] = ()) -> Iterator[None]:
        """BEGIN IMMEDIATE, waiting at most ``lock_timeout_ms`` for the write lock."""
        with sqlite_state.write_transaction(self.conn, lock_timeout_ms):
            yield

    def execute(self, statement: str, action: str) -> None:
        try:
            self.conn.execute(statement)
        except sqlite3.Error as error:
            if sqlite_state.busy(error):
                raise LockBusy() from None
            raise BluegreenError(f"{action} changed nothing: {error}") from None

    def script(self, lock_timeout_ms: int, locks: Sequence[str],
               statements: Sequence[str]) -> list[str]:
        return [f"PRAGMA busy_timeout = {int(lock_timeout_ms)}", "BEGIN IMMEDIATE", *statements,
                "COMMIT"]

    # ---- the switch, apply, the planner --------------------------------------------------------

    def switcher(self, *, accept_loss: bool = False) -> Any:
        from bluegreen.engines.sqlite.switch import SqliteSwitch

        return SqliteSwitch(self.conn, self.store)

    def shadow_alter(self, table: str, alter_sql: str) -> str:
        """SQLite's ALTER TABLE cannot change a type, a NOT NULL or a default: the copy
        builds the table from the CREATE TABLE of its new shape."""
        from bluegreen.engines.sqlite.catalog import table_sql
        from bluegreen.engines.sqlite.shadow import new_shape

        return new_shape(table_sql(self.conn, table), alter_sql, table)

    def apply(self) -> Any:
        from bluegreen.engines.sqlite.apply import SqliteApply

        return SqliteApply(self)

    def introspect(self) -> tuple[Any, int | None]:
        from bluegreen.engines.sqlite.introspect import introspect

        return introspect(self.conn, f"the database at {urls.redact(self.url)}"), None


def state_revision(url: str) -> str | None:
    """The revision of bluegreen's state tables in the database, or None (refuses
    :memory: and missing files; turns on WAL)."""
    conn = connect(url)
    try:
        return sqlite_state.SqliteDb(conn).state_revision()
    finally:
        conn.close()


def init_state(url: str) -> tuple[str | None, str]:
    """Create or upgrade bluegreen's state tables (``bluegreen_*``)."""
    from bluegreen.core import state_schema

    connect(url).close()  # refuses :memory: and missing files; turns on WAL
    return state_schema.upgrade(urls.sqlalchemy_url(url), sqlite_state.prepare_state_schema)
