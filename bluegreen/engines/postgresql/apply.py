"""PostgreSQL's side of bluegreen apply and revert: lock_timeout, transactions, CONCURRENTLY
and the INVALID indexes it can leave, key ranges, the advisory lock, and the copier and
switch for shadow copies."""

from __future__ import annotations

import json
import shlex
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from bluegreen.core.apply import sqltext
from bluegreen.core.apply.model import Kind, StepSpec
from bluegreen.core.apply.store import ApplyStore
from bluegreen.core.pace import ThrottleSettings
from bluegreen.core.throttle import Throttle
from bluegreen.engines import urls as dialects
from bluegreen.engines.base import alembic_heads, alembic_stamp
from bluegreen.errors import ApplyBusy, LockBusy, StepFailed
from bluegreen.planner.model import Batch, Target
from bluegreen.planner.schema import Schema

# One apply or revert per database: pg_try_advisory_lock(APPLY_LOCK_CLASS, APPLY_LOCK_ID).
APPLY_LOCK_CLASS, APPLY_LOCK_ID = 0x6267, 0x61707079  # "bg", "appy"
_LOCK_ERRORS = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def _step_errors() -> Iterator[None]:
    """A lock timeout or deadlock is LockBusy (the step is retried); a lost connection stays
    itself (the runner reconnects); any other database error fails the step, in one line."""
    try:
        yield
    except _LOCK_ERRORS:
        raise LockBusy() from None
    except psycopg.OperationalError:
        raise
    except psycopg.Error as error:
        raise StepFailed(_first_line(error)) from None


class PostgresApply:
    """An ApplyEngine on one autocommit psycopg connection."""

    dialect = "postgresql"

    def __init__(self, engine: Any) -> None:
        from bluegreen.engines.postgresql import state as pg_state

        self.engine = engine
        self.capabilities = engine.capabilities
        self.url = engine.url
        self.libpq = dialects.libpq_url(self.url)
        name = f"bluegreen-apply {socket.gethostname()}"[:63]
        self.conn = dialects.pg_connect(self.url, name)
        try:
            pg_state.store(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self.store = ApplyStore(pg_state.PgDb(self.conn))

    def close(self) -> None:
        self.conn.close()
        self.engine.close()

    # ---- one apply at a time ---------------------------------------------------------------

    @contextmanager
    def apply_lock(self) -> Iterator[None]:
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                (APPLY_LOCK_CLASS, APPLY_LOCK_ID)).fetchone()[0]
        if not got:
            raise ApplyBusy(self._holder())
        try:
            yield
        finally:
            if not self.conn.closed and not self.conn.broken:
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)",
                                  (APPLY_LOCK_CLASS, APPLY_LOCK_ID))

    def _holder(self) -> str:
        row = self.conn.execute(
            "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = "
            "'advisory' AND l.classid = %s AND l.objid = %s AND l.granted",
            (APPLY_LOCK_CLASS, APPLY_LOCK_ID)).fetchone()
        if row is None:
            return "it has just finished"
        pid, app, addr, since = row
        host = app.split(" ", 1)[1] if app and " " in app else (addr or "a local socket")
        return f"server pid {pid}, bluegreen on host {host}, since " \
               f"{since:%Y-%m-%d %H:%M:%S %Z}".rstrip()

    # ---- the schema the plan is judged against --------------------------------------------

    def load_schema(self) -> tuple[Schema, Target]:
        schema, version = self.engine.introspect()
        return schema, Target("postgresql", version, "database")

    # ---- running statements ---------------------------------------------------------------

    def render_step(self, step: StepSpec, lock_timeout_ms: int) -> str:
        timeout = f"'{int(lock_timeout_ms)}ms'"
        statements = [s.rstrip().rstrip(";") + ";" for s in step.statements]
        if step.kind is Kind.SQL:
            return "\n".join(["BEGIN;", f"SET LOCAL lock_timeout = {timeout};",
                              *[sqltext.local(s) + ";" for s in step.settings],
                              *statements, "COMMIT;"])
        if step.kind is Kind.CONCURRENT:
            names = [sqltext.setting(sqltext.split(s)[0].node)[0] for s in step.settings]
            if sqltext.waits_harmlessly(sqltext.split(step.statements[0])[0].node):
                # Its waits block no read or write: it waits as long as it takes.
                timeout = "0"
            return "\n".join([f"SET lock_timeout = {timeout};",
                              *[s.rstrip(";") + ";" for s in step.settings], *statements,
                              "RESET lock_timeout;", *[f"RESET {n};" for n in names]])
        if step.kind is Kind.BATCH:
            assert step.batch is not None
            keys = ", ".join(step.batch.key)
            return "\n".join([
                f"-- in primary-key ranges ({keys}) > (:lo) AND <= (:hi) of about 1000 rows, "
                "each its own transaction, throttled, up to the largest key at the start:",
                "BEGIN;", f"SET LOCAL lock_timeout = {timeout};",
                *[sqltext.local(s) + ";" for s in step.settings],
                self._range_sql(step.batch, None, True) + ";", "COMMIT;"])
        tables = " ".join(shlex.quote(t) for t in step.tables)
        if step.kind is Kind.COPY:
            return (f"-- bluegreen copy {tables} --alter {shlex.quote(step.alter or '')}\n"
                    "-- (a shadow copy, then verify; `bluegreen copy --dry-run` prints its SQL)")
        if step.kind is Kind.CUTOVER:
            return (f"-- bluegreen cutover {tables} --lock-timeout {int(lock_timeout_ms)}\n"
                    "-- (one transaction; `bluegreen cutover --dry-run` prints its SQL)")
        return f"-- bluegreen finish {tables}"

    @contextmanager
    def transaction(self, lock_timeout_ms: int, settings: Sequence[str]) -> Iterator[None]:
        with _step_errors(), self.conn.transaction():
            self.conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            for setting in settings:
                self.conn.execute(sqltext.local(setting))
            yield

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        cursor = self.conn.execute(statement, params or None)
        return cursor.rowcount

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        try:
            row = self.conn.execute(query, params or None).fetchone()
        except psycopg.OperationalError:
            raise
        except psycopg.Error as error:
            raise StepFailed(_first_line(error)) from None
        return row[0] if row else None

    def run_outside_transaction(self, statement: str, lock_timeout_ms: int,
                                settings: Sequence[str]) -> None:
        names = []
        try:
            with _step_errors():
                self.conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
                for setting in settings:
                    self.conn.execute(setting)
                    names.append(sqltext.setting(sqltext.split(setting)[0].node)[0])
                self.conn.execute(statement)
        finally:
            if not self.conn.broken:
                self.conn.execute("RESET lock_timeout")
                for name in names:
                    self.conn.execute(sql.SQL("RESET {}").format(sql.Identifier(name)))

    def _index_state(self, node: ast.IndexStmt) -> bool | None:
        """None: no index of that name; else whether it is valid."""
        name = sql.Identifier(*([node.relation.schemaname] if node.relation.schemaname
                                else []), node.idxname).as_string(self.conn)
        row = self.conn.execute("SELECT x.indisvalid FROM pg_index x WHERE x.indexrelid = "
                                "to_regclass(%s)", (name,)).fetchone()
        return None if row is None else bool(row[0])

    def already_done(self, statement: str) -> bool:
        node = sqltext.split(statement)[0].node
        if isinstance(node, ast.IndexStmt) and node.idxname:
            return self._index_state(node) is True
        if isinstance(node, ast.AlterEnumStmt) and node.oldVal is None:
            name = ".".join(sql.Identifier(n.sval).as_string(self.conn) for n in node.typeName)
            return bool(self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = to_regtype(%s) AND "
                "enumlabel = %s)", (name, node.newVal)).fetchone()[0])
        return False

    def clear_failed_build(self, statement: str) -> str | None:
        node = sqltext.split(statement)[0].node
        if isinstance(node, ast.IndexStmt) and node.idxname and \
                self._index_state(node) is False:
            name = sql.Identifier(*([node.relation.schemaname] if node.relation.schemaname
                                    else []), node.idxname)
            self.run_outside_transaction(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name).as_string(
                    self.conn), 60_000, ())
            return f"the index {node.idxname}"
        return None

    # ---- batches ----------------------------------------------------------------------------

    def _ref(self, table: str):
        from bluegreen.engines.postgresql.catalog import TableRef

        return TableRef.parse(table)

    def key_types(self, table: str, key: Sequence[str]) -> list[str]:
        ref = self._ref(table)
        rows = dict(self.conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (ref.ident.as_string(self.conn),)).fetchall())
        missing = [k for k in key if k not in rows]
        if missing:
            raise StepFailed(f"{table} has no column {', '.join(missing)} (its primary key "
                             "when the migration was planned): was it changed meanwhile?")
        return [rows[k] for k in key]

    def max_key(self, table: str, key: Sequence[str], types: Sequence[str]) -> list | None:
        from bluegreen.engines.postgresql import chunks

        row = self.conn.execute(chunks.max_key(self._ref(table),
                                               chunks.KeySet(list(key), list(types)))
                                ).fetchone()
        return _jsonable(row)

    def next_boundary(self, table: str, key: Sequence[str], types: Sequence[str],
                      lo: list | None, last: list, rows: int) -> list | None:
        from bluegreen.engines.postgresql import chunks

        query = chunks.next_boundary(self._ref(table), chunks.KeySet(list(key), list(types)),
                                     lo is not None)
        row = self.conn.execute(query, [*(lo or []), *last, max(rows, 1) - 1]).fetchone()
        return _jsonable(row)

    def _range_sql(self, batch: Batch, types: Sequence[str] | None, has_lo: bool) -> str:
        """The batch's statement limited to one key range; with ``types`` None, the range
        bounds are psql variables (:lo / :hi) for a person to fill in."""
        node = sqltext.split(batch.statement)[0].node
        if not isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
            raise StepFailed(f"a batched step must be an UPDATE or DELETE: {batch.statement}")
        where = node.whereClause
        node.whereClause = None
        node.returningClause = None
        head = RawStream()(node)
        alias = node.relation.alias.aliasname if node.relation.alias else None
        target = sql.Identifier(alias or node.relation.relname).as_string(self.conn)
        columns = ", ".join(f"{target}.{sql.Identifier(k).as_string(self.conn)}"
                            for k in batch.key)
        if types is None:
            low = ", ".join(f":'lo_{k}'" for k in batch.key)
            high = ", ".join(f":'hi_{k}'" for k in batch.key)
        else:
            head = head.replace("%", "%%")
            low = high = ", ".join(f"%s::{t}" for t in types)
        condition = f"({columns}) <= ({high})"
        if has_lo:
            condition = f"({columns}) > ({low}) AND {condition}"
        if where is not None:
            text = RawStream()(where)
            condition = f"({text.replace('%', '%%') if types is not None else text}) AND " \
                        f"{condition}"
        return f"{head} WHERE {condition}"

    def range_statement(self, batch: Batch, types: Sequence[str], has_lo: bool) -> str:
        return self._range_sql(batch, types, has_lo)

    def row_estimate(self, table: str) -> int | None:
        row = self.conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = "
                                "to_regclass(%s)",
                                (self._ref(table).ident.as_string(self.conn),)).fetchone()
        return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None

    def throttle(self, settings: ThrottleSettings) -> Throttle:
        """The copier's signals: replica lag, active sessions, the throttle query."""
        from bluegreen.engines.postgresql.throttle import throttle

        return throttle(self.libpq, settings, lambda conn: None)


    # ---- the app's Alembic version table -----------------------------------------------------

    def app_heads(self, version_table: str, version_schema: str | None) -> list[str]:
        return alembic_heads(dialects.sqlalchemy_url(self.url), version_table, version_schema)

    def stamp(self, versions_dir: Path, revision: str, version_table: str,
              version_schema: str | None) -> None:
        alembic_stamp(dialects.sqlalchemy_url(self.url), versions_dir, revision,
                      version_table, version_schema)


def _jsonable(row: Any) -> list | None:
    return json.loads(json.dumps(list(row), default=str)) if row else None
