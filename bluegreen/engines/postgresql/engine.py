"""PostgreSQL (psycopg 3) as a bluegreen Engine: one autocommit connection; the copier,
the switch, verify and apply's steps through the modules beside this one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from bluegreen.core.state import ACTIVE_STATES, MigrationRecord, MigrationStore
from bluegreen.engines import urls
from bluegreen.engines.base import Capabilities
from bluegreen.engines.postgresql import state as pg_state
from bluegreen.engines.postgresql.catalog import TableRef, check_identity
from bluegreen.errors import BluegreenError, LockBusy, TableReplaced

_LOCK_ERRORS = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class PostgresEngine:
    name = "postgresql"
    capabilities = Capabilities(concurrent_index=True, transactional_ddl=True,
                                lock_timeout=True, throttle_signals=True, parallel_copy=True,
                                table_identity=True)

    def __init__(self, url: str, application: str = "bluegreen") -> None:
        urls.libpq_url(url)  # a URL libpq cannot take is refused now, in one line
        self.url = url
        self.application = application
        self._conn: psycopg.Connection | None = None
        self._store: MigrationStore | None = None

    @property
    def conn(self) -> psycopg.Connection:
        """The engine's connection, opened on first use (`plan` reads the schema through
        SQLAlchemy and needs none)."""
        if self._conn is None:
            self._conn = urls.pg_connect(self.url, self.application)
        return self._conn

    # ---- the session -------------------------------------------------------------------------

    @property
    def store(self) -> MigrationStore:
        if self._store is None:
            self._store = pg_state.store(self.conn)
        return self._store

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> PostgresEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table_key(self, table: str) -> str:
        return TableRef.parse(table).key

    def now(self) -> Any:
        return self.conn.execute("SELECT now()").fetchone()[0]

    def backlog(self, record: MigrationRecord) -> int | None:
        if record.state not in ACTIVE_STATES:
            return None
        queue = sql.Identifier(pg_state.STATE_SCHEMA, record.queue_table)
        if self.conn.execute("SELECT to_regclass(%s)", (queue.as_string(self.conn),)
                             ).fetchone()[0] is None:
            return None
        return self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(queue)).fetchone()[0]

    def notify_control(self) -> None:
        from bluegreen.engines.postgresql.throttle import notify_control

        notify_control(self.conn)

    # ---- copy ---------------------------------------------------------------------------------

    def copy(self, table: str, alter_sql: str | None, options: Any,
             on_progress: Callable[[Any], None] | None,
             on_event: Callable[[str], None] | None) -> Any:
        from bluegreen.engines.postgresql.copy import Copier

        return Copier(self.url, table, alter_sql, options, on_progress=on_progress,
                      on_event=on_event).run()

    def copy_dry_run(self, table: str, alter_sql: str) -> list[str]:
        from bluegreen.engines.postgresql.copy import dry_run_statements

        return dry_run_statements(self.url, table, alter_sql)

    # ---- identity, verify --------------------------------------------------------------------

    def check_identity(self, record: MigrationRecord, action: str) -> None:
        check_identity(self.conn, record, action)

    def tables_replaced(self, record: MigrationRecord) -> bool:
        try:
            check_identity(self.conn, record, "abort")
        except TableReplaced:
            return True
        return False

    @contextmanager
    def verifier(self, record: MigrationRecord) -> Iterator[Any]:
        from bluegreen.engines.postgresql.copy import open_migration
        from bluegreen.engines.postgresql.verify import PgVerifier

        yield PgVerifier(self.conn, open_migration(self.conn, record))

    # ---- abort, finish -------------------------------------------------------------------------

    def abort_statements(self, record: MigrationRecord) -> list[str]:
        """What abort drops: the capture (or reverse) triggers, their functions, the queue,
        and the shadow, but only a shadow that is the table this migration created (its
        OID): a table someone re-created under that name is not bluegreen's to drop."""
        from bluegreen.engines.postgresql import capture
        from bluegreen.engines.postgresql.catalog import current_oid, names_for
        from bluegreen.engines.postgresql.reverse import drop_reverse_ddl, unsynced_table

        conn = self.conn
        ref = TableRef.parse(record.table_name)
        shadow, _, queue = names_for(ref, record.id)
        # The triggers are found by their functions, on whatever table they are now (a table
        # renamed away by someone else still carries them).
        out = [f"DROP TRIGGER {sql.Identifier(name).as_string(conn)} ON {table}"
               for name, table in conn.execute(
                   "SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t JOIN pg_proc p "
                   "ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace WHERE "
                   "n.nspname = 'bluegreen' AND p.proname = ANY(%s)",
                   ([f"{queue.name}_capture", f"{queue.name}_truncate", f"reverse_{record.id}",
                     f"reverse_{record.id}_truncate"],))]
        out += drop_reverse_ddl(conn, record, ref)
        out += [s.as_string(conn) for s in capture.drop_ddl(ref, queue)]
        if record.state != "cut_over":
            now = current_oid(conn, shadow)
            if now is not None and record.shadow_oid in (None, now):
                out.append(sql.SQL("DROP TABLE IF EXISTS {}").format(shadow.ident)
                           .as_string(conn))
        out.append(sql.SQL("DROP TABLE IF EXISTS {}").format(
            unsynced_table(record).ident).as_string(conn))
        return out

    def finish_statements(self, records: list[MigrationRecord]) -> list[str]:
        from bluegreen.engines.postgresql.switch import finish_statements

        return [s for r in records for s in finish_statements(self.conn, r)]

    def finish_locks(self, records: list[MigrationRecord]) -> list[str]:
        from bluegreen.engines.postgresql.switch import finish_locks

        return finish_locks(self.conn, records)

    def before_finish(self, records: list[MigrationRecord]) -> None:
        """A cutover killed between its commit and its validations: validate before the old
        table (and with it the record of what to validate) goes."""
        from bluegreen.engines.postgresql.switch import validate

        for record in records:
            for item in record.detail.get("pending_validation") or []:
                validate(self.conn, item)

    @contextmanager
    def transaction(self, lock_timeout_ms: int, locks: Sequence[str] = ()) -> Iterator[None]:
        """One transaction under ``SET LOCAL lock_timeout``: the first lock waited for (up to
        the timeout), the rest taken NOWAIT with a short retry, so bluegreen never waits for
        a lock while holding one."""
        from bluegreen.engines.postgresql.switch import _lock_rest

        try:
            with self.conn.transaction():
                self.conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                if locks:
                    self.conn.execute(locks[0])
                    for statement in locks[1:]:
                        _lock_rest(self.conn, statement)
                yield
        except _LOCK_ERRORS:
            raise LockBusy() from None

    def execute(self, statement: str, action: str) -> None:
        try:
            self.conn.execute(statement)
        except _LOCK_ERRORS:
            raise
        except psycopg.OperationalError:
            raise
        except psycopg.Error as error:
            raise BluegreenError(f"{action} changed nothing: {_first_line(error)}") from None

    def script(self, lock_timeout_ms: int, locks: Sequence[str],
               statements: Sequence[str]) -> list[str]:
        return ["BEGIN", f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}", *locks,
                *statements, "COMMIT"]

    # ---- the switch, apply, the planner --------------------------------------------------------

    def switcher(self, *, accept_loss: bool = False) -> Any:
        from bluegreen.engines.postgresql.switch import PostgresSwitch

        return PostgresSwitch(self.conn, self.store, accept_loss=accept_loss)

    def shadow_alter(self, table: str, alter_sql: str) -> str:
        return alter_sql

    def apply(self) -> Any:
        from bluegreen.engines.postgresql.apply import PostgresApply

        return PostgresApply(self)

    def introspect(self) -> tuple[Any, int | None]:
        from bluegreen.engines.postgresql import introspect

        with urls.connect(self.url) as conn:
            schema = introspect.introspect(conn)
            version = introspect.server_version(conn)
        schema.description = f"the database at {urls.redact(self.url)}"
        return schema, version


def state_revision(url: str) -> str | None:
    """The revision of bluegreen's state tables in the database, or None."""
    with urls.pg_connect(url, "bluegreen-init") as conn:
        return pg_state.PgDb(conn).state_revision()


def init_state(url: str) -> tuple[str | None, str]:
    """Create or upgrade bluegreen's state tables (schema ``bluegreen``)."""
    import sqlalchemy as sa

    from bluegreen.core import state_schema
    from bluegreen.errors import DatabaseUnavailable

    parsed = urls.parse(url)
    try:
        return state_schema.upgrade(parsed.to_sqlalchemy(), pg_state.prepare_state_schema)
    except sa.exc.OperationalError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(urls.redact(url), detail) from None
    except sa.exc.DBAPIError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        user = parsed.username or "this role"
        if "permission denied" in detail or "must be owner" in detail:
            raise BluegreenError(
                f"{user} cannot create bluegreen's state tables ({detail}); run `bluegreen "
                f"init` once as a role that may (GRANT CREATE ON DATABASE {parsed.database} TO "
                f"{user}), or have an admin run `CREATE SCHEMA bluegreen AUTHORIZATION "
                f"{user}` first") from None
        raise BluegreenError(f"bluegreen init failed: {detail}") from None
