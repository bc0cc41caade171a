"""bluegreen's state on SQLite: no schemas, so the tables are ``bluegreen_*`` in the main
database; the stores (bluegreen.core.state, bluegreen.core.apply.store) reach them through
``SqliteDb``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from typing import Any

from bluegreen.core.db import UniqueConflict
from bluegreen.core.state import MigrationStore
from bluegreen.errors import LockBusy

NOW = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')"
_savepoints = count(1)


DEFAULT_BUSY_TIMEOUT_MS = 30_000


def busy(error: sqlite3.Error) -> bool:
    """The error of a statement that waited for the write lock in vain."""
    text = str(error).lower()
    return "locked" in text or "busy" in text


@contextmanager
def busy_timeout(conn: sqlite3.Connection, lock_timeout_ms: int | None) -> Iterator[None]:
    """Wait at most ``lock_timeout_ms`` for the write lock (LockBusy after it), then back
    to the default."""
    if lock_timeout_ms is None:
        yield
        return
    conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
    try:
        yield
    except sqlite3.OperationalError as error:
        if busy(error):
            raise LockBusy() from None
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {DEFAULT_BUSY_TIMEOUT_MS}")


@contextmanager
def write_transaction(conn: sqlite3.Connection, lock_timeout_ms: int | None = None
                      ) -> Iterator[None]:
    """BEGIN IMMEDIATE (SQLite's write lock up front) ... COMMIT, ROLLBACK on any error;
    with ``lock_timeout_ms``, LockBusy when the lock is not had in that time."""
    with busy_timeout(conn, lock_timeout_ms):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class SqliteDb:
    """A sqlite3 connection (autocommit: isolation_level None) as the stores' ``Db``."""

    prefix = "bluegreen_"
    now = NOW

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self.conn.execute(sql, tuple(params)).rowcount
        except sqlite3.IntegrityError as error:
            if "UNIQUE" in str(error).upper():
                raise UniqueConflict() from None
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (SQLite's write lock up front), or a savepoint inside one."""
        if self.conn.in_transaction:
            name = f"bluegreen_sp{next(_savepoints)}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            self.conn.execute(f"RELEASE {name}")
            return
        with write_transaction(self.conn):
            yield

    def state_revision(self) -> str | None:
        row = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                "= 'bluegreen_alembic_version'").fetchone()
        if row is None:
            return None
        version = self.conn.execute("SELECT version_num FROM bluegreen_alembic_version"
                                    ).fetchone()
        return version[0] if version else None


def store(conn: sqlite3.Connection) -> MigrationStore:
    """The migration store on ``conn``, checked (see MigrationStore.checked)."""
    return MigrationStore.checked(SqliteDb(conn))


def prepare_state_schema(connection: Any) -> dict[str, Any]:
    """For ``bluegreen init``: the version table's name (no schemas on SQLite)."""
    return {"version_table": "bluegreen_alembic_version"}
