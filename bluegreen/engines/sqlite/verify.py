"""Verify on SQLite (the comparison is bluegreen.core.verify): one read transaction (a
snapshot in WAL mode); a range's digest is a hash of its rows in key order."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen.core.state import MigrationRecord
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.engines.sqlite.catalog import primary_key, q
from bluegreen.engines.sqlite.copy import column_mapping, column_renames, replay


class SqliteVerifier:
    def __init__(self, conn: sqlite3.Connection, record: MigrationRecord) -> None:
        self.conn = conn
        self.record = record
        self.table = record.table_name
        self.pk = primary_key(conn, self.table)
        self.mapping = column_mapping(conn, self.table, record)
        renames = column_renames(record.alter_sql)
        self.keys = ", ".join(q(k) for k in self.pk)
        self.shadow_keys = ", ".join(q(renames.get(k, k)) for k in self.pk)
        self.marks = ", ".join("?" for _ in self.pk)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def _bounds(self, keys: str, lo: list | None, hi: list | None) -> str:
        lower = f"({keys}) > ({self.marks})" if lo else "1"
        upper = f" AND ({keys}) <= ({self.marks})" if hi else ""
        return lower + upper

    def boundary(self, lo: list | None, rows: int) -> list | None:
        row = self.conn.execute(
            f"SELECT {self.keys} FROM {q(self.table)} WHERE {self._bounds(self.keys, lo, None)} "
            f"ORDER BY {self.keys} LIMIT 1 OFFSET ?", [*(lo or []), rows - 1]).fetchone()
        return list(row) if row else None

    def _digest(self, rows: list) -> tuple[int, str]:
        return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()

    def digests(self, lo: list | None, hi: list | None) -> tuple[tuple, tuple]:
        targets, sources = self.mapping
        queue = q(self.record.queue_table)
        bounds = [*(lo or []), *(hi or [])]
        live = self.conn.execute(
            f"SELECT {sources} FROM {q(self.table)} WHERE {self._bounds(self.keys, lo, hi)} AND "
            f"({self.keys}) NOT IN (SELECT {self.keys} FROM {queue}) ORDER BY {self.keys}",
            bounds).fetchall()
        shadow = self.conn.execute(
            f"SELECT {targets} FROM {q(self.record.shadow_table)} WHERE "
            f"{self._bounds(self.shadow_keys, lo, hi)} AND ({self.shadow_keys}) NOT IN (SELECT "
            f"{self.keys} FROM {queue}) ORDER BY {self.shadow_keys}", bounds).fetchall()
        return self._digest(live), self._digest(shadow)

    def requeue(self, lo: list | None, hi: list | None) -> int:
        bounds = [*(lo or []), *(hi or [])]
        with sqlite_state.SqliteDb(self.conn).transaction():
            return self.conn.execute(
                f"INSERT INTO {q(self.record.queue_table)} ({self.keys}) SELECT {self.keys} FROM "
                f"{q(self.table)} WHERE {self._bounds(self.keys, lo, hi)} UNION SELECT "
                f"{self.shadow_keys} FROM {q(self.record.shadow_table)} WHERE "
                f"{self._bounds(self.shadow_keys, lo, hi)}", bounds + bounds).rowcount

    def replay_all(self) -> None:
        while replay(self.conn, self.record, self.pk, self.mapping):
            pass
