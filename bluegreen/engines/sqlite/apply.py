"""SQLite's side of bluegreen apply and revert: one writer at a time (BEGIN IMMEDIATE with a
busy timeout is the lock timeout), no CONCURRENTLY, a lock row instead of an advisory lock,
and the table rebuild where SQLite's ALTER TABLE cannot make a change."""

from __future__ import annotations

import os
import shlex
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bluegreen.core.apply import sqltext
from bluegreen.core.apply.model import Kind, StepSpec
from bluegreen.core.apply.store import ApplyStore
from bluegreen.core.pace import ThrottleSettings
from bluegreen.core.throttle import NoSignals, Throttle
from bluegreen.engines import urls as dialects
from bluegreen.engines.base import alembic_heads, alembic_stamp
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.engines.sqlite.catalog import q
from bluegreen.errors import ApplyBusy, StepFailed
from bluegreen.planner.model import Batch, Target
from bluegreen.planner.schema import Schema


class SqliteApply:
    """An ApplyEngine on one SQLite connection (autocommit; transactions explicit)."""

    dialect = "sqlite"

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.capabilities = engine.capabilities
        self.url = engine.url
        self.conn = engine.conn  # one connection: SQLite has one writer anyway
        sqlite_state.store(self.conn)
        self.store = ApplyStore(sqlite_state.SqliteDb(self.conn))

    def close(self) -> None:
        self.engine.close()

    # ---- one apply at a time ---------------------------------------------------------------

    @contextmanager
    def apply_lock(self) -> Iterator[None]:
        host, pid = socket.gethostname(), os.getpid()
        with sqlite_state.SqliteDb(self.conn).transaction():
            row = self.conn.execute("SELECT pid, host, since FROM bluegreen_apply_lock WHERE "
                                    "id = 1").fetchone()
            if row is not None and not (row[1] == host and not _alive(row[0])):
                raise ApplyBusy(f"pid {row[0]} on host {row[1]}, since {row[2]}")
            self.conn.execute("INSERT OR REPLACE INTO bluegreen_apply_lock (id, pid, host, "
                              "since) VALUES (1, ?, ?, ?)",
                              (pid, host, datetime.now(timezone.utc).isoformat(
                                  timespec="seconds")))
        try:
            yield
        finally:
            self.conn.execute("DELETE FROM bluegreen_apply_lock WHERE id = 1 AND pid = ? AND "
                              "host = ?", (pid, host))

    # ---- the schema the plan is judged against --------------------------------------------

    def load_schema(self) -> tuple[Schema, Target]:
        schema, _ = self.engine.introspect()
        return schema, Target("sqlite", 3, "database")

    # ---- running statements ---------------------------------------------------------------

    def render_step(self, step: StepSpec, lock_timeout_ms: int) -> str:
        timeout = f"PRAGMA busy_timeout = {int(lock_timeout_ms)};"
        statements = [s.rstrip().rstrip(";") + ";" for s in step.statements]
        if step.kind is Kind.SQL:
            return "\n".join([timeout, "BEGIN IMMEDIATE;", *statements, "COMMIT;"])
        if step.kind is Kind.CONCURRENT:
            return "\n".join([timeout, *statements])
        if step.kind is Kind.BATCH:
            assert step.batch is not None
            keys = ", ".join(step.batch.key)
            return "\n".join([
                f"-- in primary-key ranges ({keys}) > (:lo) AND <= (:hi) of about 1000 rows, "
                "each its own transaction, throttled, up to the largest key at the start:",
                timeout, "BEGIN IMMEDIATE;", self._range_sql(step.batch, True, True) + ";",
                "COMMIT;"])
        tables = " ".join(shlex.quote(t) for t in step.tables)
        if step.kind is Kind.COPY:
            return (f"-- bluegreen copy {tables} --alter {shlex.quote(step.alter or '')}\n"
                    "-- (a table rebuild beside the live one, then verify)")
        if step.kind is Kind.CUTOVER:
            return f"-- bluegreen cutover {tables} --lock-timeout {int(lock_timeout_ms)}"
        return f"-- bluegreen finish {tables}"

    @contextmanager
    def transaction(self, lock_timeout_ms: int, settings: Sequence[str]) -> Iterator[None]:
        try:
            with sqlite_state.write_transaction(self.conn, lock_timeout_ms):
                yield
        except sqlite3.Error as error:  # a busy write lock is LockBusy already
            raise StepFailed(str(error)) from None

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(statement, tuple(params)).rowcount

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        try:
            row = self.conn.execute(query, tuple(params)).fetchone()
        except sqlite3.Error as error:
            raise StepFailed(str(error)) from None
        return row[0] if row else None

    def run_outside_transaction(self, statement: str, lock_timeout_ms: int,
                                settings: Sequence[str]) -> None:
        try:
            with sqlite_state.busy_timeout(self.conn, lock_timeout_ms):
                self.conn.execute(statement)
        except sqlite3.Error as error:
            raise StepFailed(str(error)) from None

    def already_done(self, statement: str) -> bool:
        return False

    def clear_failed_build(self, statement: str) -> str | None:
        return None  # SQLite builds an index in one transaction: nothing is left behind

    # ---- batches ----------------------------------------------------------------------------

    def key_types(self, table: str, key: Sequence[str]) -> list[str]:
        names = {r[1] for r in self.conn.execute(f"PRAGMA table_info({q(table)})")}
        missing = [k for k in key if k not in names]
        if missing:
            raise StepFailed(f"{table} has no column {', '.join(missing)} (its primary key "
                             "when the migration was planned): was it changed meanwhile?")
        return ["" for _ in key]

    def max_key(self, table: str, key: Sequence[str], types: Sequence[str]) -> list | None:
        order = ", ".join(f"{q(k)} DESC" for k in key)
        row = self.conn.execute(f"SELECT {', '.join(q(k) for k in key)} FROM {q(table)} "
                                f"ORDER BY {order} LIMIT 1").fetchone()
        return list(row) if row else None

    def next_boundary(self, table: str, key: Sequence[str], types: Sequence[str],
                      lo: list | None, last: list, rows: int) -> list | None:
        cols = ", ".join(q(k) for k in key)
        marks = ", ".join("?" for _ in key)
        lower = f"({cols}) > ({marks}) AND " if lo is not None else ""
        row = self.conn.execute(f"SELECT {cols} FROM {q(table)} WHERE {lower}({cols}) <= "
                                f"({marks}) ORDER BY {cols} LIMIT 1 OFFSET ?",
                                [*(lo or []), *last, max(rows, 1) - 1]).fetchone()
        return list(row) if row else None

    def _range_sql(self, batch: Batch, has_lo: bool, display: bool = False) -> str:
        from pglast import ast
        from pglast.stream import RawStream

        node = sqltext.split(batch.statement)[0].node
        if not isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
            raise StepFailed(f"a batched step must be an UPDATE or DELETE: {batch.statement}")
        where = node.whereClause
        node.whereClause = None
        node.returningClause = None
        head = RawStream()(node)
        columns = ", ".join(f"{q(node.relation.relname)}.{q(k)}" for k in batch.key)
        low = ", ".join(f":lo_{k}" if display else "?" for k in batch.key)
        high = ", ".join(f":hi_{k}" if display else "?" for k in batch.key)
        condition = f"({columns}) <= ({high})"
        if has_lo:
            condition = f"({columns}) > ({low}) AND {condition}"
        if where is not None:
            condition = f"({RawStream()(where)}) AND {condition}"
        return f"{head} WHERE {condition}"

    def range_statement(self, batch: Batch, types: Sequence[str], has_lo: bool) -> str:
        return self._range_sql(batch, has_lo)

    def row_estimate(self, table: str) -> int | None:
        return self.scalar(f"SELECT count(*) FROM {q(table)}")

    def throttle(self, settings: ThrottleSettings) -> Throttle:
        """Rows per second alone: SQLite has no other signals to throttle on."""
        return Throttle(settings, NoSignals())


    # ---- the app's Alembic version table -----------------------------------------------------

    def app_heads(self, version_table: str, version_schema: str | None) -> list[str]:
        return alembic_heads(dialects.sqlalchemy_url(self.url), version_table, None)

    def stamp(self, versions_dir: Path, revision: str, version_table: str,
              version_schema: str | None) -> None:
        alembic_stamp(dialects.sqlalchemy_url(self.url), versions_dir, revision,
                      version_table, None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

