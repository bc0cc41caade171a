"""SQLite's throttle signals (the decision loop is bluegreen.core.throttle): only
``bluegreen pause``, read from the state table on a connection of its own. SQLite has no
replicas and no other sessions to count; an abort, seen on the same poll, stops the copy."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen.core.pace import ThrottleSettings
from bluegreen.core.throttle import Throttle
from bluegreen.engines.sqlite.catalog import connect
from bluegreen.errors import CopyAborted


class SqliteSignals:
    transient: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, url: str, migration_id: int, table: str) -> None:
        self.url = url
        self.migration_id = migration_id
        self.table = table

    @contextmanager
    def open(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.url)
        try:
            yield conn
        finally:
            conn.close()

    def reason(self, conn: sqlite3.Connection) -> str | None:
        row = conn.execute("SELECT paused, state FROM bluegreen_migrations WHERE id = ?",
                           (self.migration_id,)).fetchone()
        if row is None or row[1] == "aborted":
            raise CopyAborted(self.table)
        return f"paused (bluegreen resume {self.table})" if row[0] else None

    def wait(self, conn: sqlite3.Connection, seconds: float) -> bool:
        time.sleep(seconds)  # SQLite has no events: the next poll reads the pause flag
        return False


def throttle(url: str, settings: ThrottleSettings, migration_id: int, table: str,
             stop: threading.Event) -> Throttle:
    return Throttle(settings, SqliteSignals(url, migration_id, table), stop)
