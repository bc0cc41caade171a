"""bluegreen's commands as plain functions returning result objects: the Python API.

Nothing here prints; the CLI renders what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bluegreen.errors import BadOption, BluegreenError, InputNotFound

if TYPE_CHECKING:
    from bluegreen.planner import ops
    from bluegreen.planner.model import Plan
    from bluegreen.planner.schema import Schema
    from bluegreen.results import StatusRow

# Imports of database libraries (SQLAlchemy, Alembic, psycopg, pglast) live inside the
# functions: `bluegreen --help` and `import bluegreen.commands` load none of them
# (tests/cli/test_startup.py checks it).

DEFAULT_PG_VERSION = 15


def read_statements(paths: list[str | Path], *, from_rev: str | None = None,
                    to_rev: str | None = None, sqlite: bool = False,
                    single_transaction: bool = False,
                    stdin_text: str | None = None) -> list[ops.Statement]:
    """Every statement of the given SQL files, Alembic revisions and versions directories,
    in order. A SQL file runs statement by statement (as psql runs it) unless
    ``single_transaction`` (psql --single-transaction, Flyway, golang-migrate...) or a goose
    or dbmate header says its tool runs it in one transaction. A path ``-`` is SQL given as
    ``stdin_text`` (named ``stdin`` in the plan)."""
    from bluegreen.planner.sources import alembic as alembic_source
    from bluegreen.planner.sources.sql import migration_file, parse_sql

    statements: list[ops.Statement] = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == "-":
            if stdin_text is None:
                raise BadOption("-: no SQL given on standard input")
            statements += parse_sql(_sql_text(stdin_text, sqlite), "stdin",
                                    in_transaction=single_transaction)
            continue
        if not path.exists():
            raise InputNotFound(str(raw))
        if path.is_dir():
            files = alembic_source.revision_files(path, from_rev, to_rev)
            if not files:
                raise BadOption(f"{raw}: no Alembic revisions found; pass a versions "
                                "directory or check --from/--to")
            for file in files:
                statements += _revision_statements(file)
        elif path.suffix == ".py":
            statements += _revision_statements(path)
        else:
            text, tool_transaction = migration_file(_sql_text(_read_text(path), sqlite))
            statements += parse_sql(text, str(raw),
                                    in_transaction=single_transaction or bool(tool_transaction))
    return statements


def _sql_text(text: str, sqlite: bool) -> str:
    """SQL is parsed with PostgreSQL's grammar; SQLite's own keywords that change nothing
    the planner judges are blanked (same length, so lines and offsets stay)."""
    if not sqlite:
        return text
    import re

    return re.sub(r"\bAUTOINCREMENT\b|\bWITHOUT\s+ROWID\b|\bSTRICT\b",
                  lambda m: " " * len(m.group(0)), text, flags=re.IGNORECASE)


def load_sqlite_schema(url: str) -> Schema:
    """The schema of a SQLite database, from the CREATE statements it keeps."""
    from bluegreen.engines.sqlite.runtime import connect

    conn = connect(url)
    try:
        ddl = ";\n".join(r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table', "
            "'index') AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'bluegreen%'"))
    finally:
        conn.close()
    return schema_from_sql(_sql_text(ddl, True), "sqlite schema",
                           description=f"the database at {url}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadOption(f"{path}: not UTF-8 text; pass a .sql file or a .py revision") from None
    except OSError as error:
        raise BadOption(f"{path}: cannot read it ({error.strerror})") from None


def _revision_statements(path: Path) -> list[ops.Statement]:
    from bluegreen.planner.sources import alembic as alembic_source

    # Absolute: Python names the revision's code by its absolute path, and the recorder
    # finds each op's line by that name (a bare `0003_x.py` would give line 0).
    path = path.resolve()
    module = alembic_source.load_revision(path)
    return alembic_source.record_upgrade(module, path)


def load_schema_file(path: str | Path, *, sqlite: bool = False) -> Schema:
    """The schema described by a DDL file such as ``pg_dump --schema-only`` output."""
    file = Path(path)
    if not file.is_file():
        raise BadOption(f"--schema {path}: no such file; pass a DDL file such as "
                        "`pg_dump --schema-only` output")
    return schema_from_sql(_sql_text(_read_text(file), sqlite), str(path),
                           description=f"--schema {path}")


def schema_from_sql(text: str, source: str, *, description: str | None = None) -> Schema:
    """The schema that running ``text`` (DDL) on an empty database leaves behind."""
    from bluegreen.planner.schema import Schema
    from bluegreen.planner.sources.sql import parse_sql

    schema = Schema(known=True, description=description or source)
    for statement in parse_sql(text, source):
        for op in statement.ops:
            schema.apply(op, in_migration=False)
    return schema


def load_database_schema(url: str) -> tuple[Schema, int]:
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql import introspect as postgresql

    if dialects.sqlalchemy_url(url).get_backend_name() != "postgresql":
        raise BadOption("plan --database-url supports PostgreSQL for now; use --schema for "
                        "other databases")
    with dialects.connect(url) as conn:
        schema = postgresql.introspect(conn)
        version = postgresql.server_version(conn)
    schema.description = f"the database at {dialects.redact(url)}"
    return schema, version


def plan(
    paths: list[str | Path],
    *,
    schema_file: str | Path | None = None,
    database_url: str | None = None,
    pg_version: int | None = None,
    from_rev: str | None = None,
    to_rev: str | None = None,
    dialect: str | None = None,
    single_transaction: bool = False,
    as_apply_runs_it: bool = False,
    disabled_rules: list[str] | None = None,
    stdin_text: str | None = None,
) -> Plan:
    """Judge every statement of a migration: phase, blocking, strategy, findings, steps.

    ``single_transaction``: the SQL files run as one transaction each (psql
    --single-transaction and most migration tools), so locks accumulate through a file.
    ``as_apply_runs_it``: judge each statement as `bluegreen apply` runs it, in a
    transaction of its own under lock_timeout (rather than as the migration tool would).
    ``disabled_rules`` are left out as if every statement carried a ``bluegreen: ignore``
    for them; ``stdin_text`` is the SQL of a path given as ``-``.
    """
    from bluegreen.planner.engine import build_plan
    from bluegreen.planner.model import Target
    from bluegreen.planner.rules import rule_ids
    from bluegreen.planner.schema import Schema

    if schema_file and database_url:
        raise BadOption("give --schema or --database-url, not both")
    if pg_version is not None and not 9 <= pg_version <= 30:
        raise BadOption(f"--pg-version {pg_version}: give a major version such as 15")
    if database_url and dialect is None and is_sqlite(database_url):
        dialect = "sqlite"
    if dialect not in (None, "postgresql", "sqlite"):
        raise BadOption(f"--dialect {dialect}: give postgresql or sqlite")
    if database_url and (dialect == "sqlite") != is_sqlite(database_url):
        raise BadOption(f"--dialect {dialect} does not match the database given "
                        f"({'SQLite' if is_sqlite(database_url) else 'PostgreSQL'}); pass a "
                        f"{dialect} database, --schema FILE, or no database")
    unknown = sorted(set(disabled_rules or ()) - set(rule_ids()))
    if unknown:
        raise BadOption(f"cannot disable {', '.join(unknown)}: no such rule; the rules are "
                        f"{', '.join(rule_ids())}")
    statements = read_statements(paths, from_rev=from_rev, to_rev=to_rev,
                                 sqlite=dialect == "sqlite",
                                 single_transaction=single_transaction, stdin_text=stdin_text)
    for statement in statements:
        statement.suppressed |= set(disabled_rules or ())
    if as_apply_runs_it:
        from bluegreen.core.apply.build import prepare_statements

        prepare_statements(statements)
    schema = Schema()
    server_version = None
    if schema_file:
        schema = load_schema_file(schema_file, sqlite=dialect == "sqlite")
    elif database_url and dialect == "sqlite":
        schema = load_sqlite_schema(database_url)
    elif database_url:
        schema, server_version = load_database_schema(database_url)
    if dialect == "sqlite":
        target = Target("sqlite", 3, "option")
    elif pg_version is not None:
        target = Target("postgresql", pg_version, "option")
    elif server_version is not None:
        target = Target("postgresql", server_version, "database")
    else:
        target = Target("postgresql", DEFAULT_PG_VERSION, "default")
    return build_plan(statements, schema, target)


def plan_exit_code(result: Plan, phase: str | None = None, fail_on: str = "problems") -> int:
    """0 clean; 1 when something is breaking, blocking or an error (with ``fail_on``
    "unsafe": only what `bluegreen apply` would refuse, a change with no runnable safe
    steps), or when ``phase`` is given and a change belongs to another phase."""
    from bluegreen.planner.model import Phase

    if fail_on == "unsafe":
        from bluegreen.core.apply.build import unsafe_reason

        if any(not c.neutral and unsafe_reason(c) for c in result.changes):
            return 1
    elif any(change.is_problem for change in result.changes):
        return 1
    if phase is not None:
        wanted = Phase(phase)
        if any(c.phase is not wanted and not c.neutral for c in result.changes):
            return 1
    return 0


# ---- state and the copier -----------------------------------------------------------------

def is_sqlite(database_url: str) -> bool:
    """SQLite is the embedded default; everything else here is PostgreSQL."""
    from bluegreen.engines import urls as dialects

    return dialects.sqlalchemy_url(database_url).get_backend_name() == "sqlite"


def init(database_url: str) -> tuple[str | None, str]:
    """Create or upgrade bluegreen's state tables; returns (revision before, after)."""
    from bluegreen.core import state_schema as state_init
    from bluegreen.engines import urls as dialects
    from bluegreen.errors import DatabaseUnavailable

    url = dialects.sqlalchemy_url(database_url)
    if url.get_backend_name() == "sqlite":
        from bluegreen.engines.sqlite.runtime import connect

        connect(database_url).close()  # refuses :memory: and missing files; turns on WAL
    import sqlalchemy as sa

    try:
        from bluegreen.engines.postgresql import state as pg_state
        from bluegreen.engines.sqlite import state as sqlite_state

        prepare = (sqlite_state if url.get_backend_name() == "sqlite"
                   else pg_state).prepare_state_schema
        return state_init.upgrade(url, prepare)
    except sa.exc.OperationalError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(dialects.redact(database_url), detail) from None
    except sa.exc.DBAPIError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        user = url.username or "this role"
        if "permission denied" in detail or "must be owner" in detail:
            raise BluegreenError(
                f"{user} cannot create bluegreen's state tables ({detail}); run `bluegreen "
                f"init` once as a role that may (GRANT CREATE ON DATABASE {url.database} TO "
                f"{user}), or have an admin run `CREATE SCHEMA bluegreen AUTHORIZATION "
                f"{user}` first") from None
        raise BluegreenError(f"bluegreen init failed: {detail}") from None


def _redacted(on_event):
    """Events pass through the one redaction function before anyone sees them."""
    if on_event is None:
        return None
    from bluegreen.redact import redact

    return lambda message: on_event(redact(message))


def _interrupted(database_url: str, table: str, action: str, command: str):
    """Ctrl-C during a switch or finish: say where it stopped and what runs next."""
    from bluegreen.errors import Interrupted

    state = None
    try:
        state = status(database_url, table)[0].record.state
    except Exception:  # best effort: the message goes out either way
        pass
    where = f" (the migration is {state})" if state else ""
    return Interrupted(f"interrupted: the {action} of {table} stopped{where}; it runs in one "
                       f"transaction, so nothing was left half done. Run `{command}` to do it "
                       f"again, and `bluegreen status {table}` to see where it is")


def _store(conn):
    from bluegreen.engines.postgresql import state as pg_state

    return pg_state.store(conn)


def copy(database_url: str, table: str, alter_sql: str | None, options=None, *,
         on_progress=None, on_event=None):
    """Build the shadow table and keep it in sync (see bluegreen.engines.postgresql.copy)."""
    from bluegreen.core.copy import CopyOptions
    from bluegreen.engines.postgresql.copy import Copier

    on_event = _redacted(on_event)
    if is_sqlite(database_url):
        from bluegreen.core.copy import run_copy
        from bluegreen.engines.sqlite.runtime import SqliteCopier

        options = options or CopyOptions()
        with SqliteCopier(database_url, table, alter_sql, options, on_progress=on_progress,
                          on_event=on_event) as engine:
            return run_copy(engine, alter_sql, options, engine.on_event)
    return Copier(database_url, table, alter_sql, options or CopyOptions(),
                  on_progress=on_progress, on_event=on_event).run()


def copy_dry_run(database_url: str, table: str, alter_sql: str) -> list[str]:
    from bluegreen.engines.postgresql.copy import dry_run_statements

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.dry_run_statements(database_url, table, alter_sql)
    return dry_run_statements(database_url, table, alter_sql)


def status(database_url: str, table: str | None = None, *,
           history: bool = False) -> list[StatusRow]:
    """The active migrations (of one table: its active, else latest, migration); with
    ``history``, the latest 50 migrations in any state (of one table, if given)."""
    from bluegreen.core.state import ACTIVE_STATES
    from bluegreen.engines.postgresql.catalog import TableRef

    if history:
        rows = _status(database_url, None)
        if table:
            key = table if is_sqlite(database_url) else TableRef.parse(table).key
            rows = [row for row in rows if row.record.table_name == key]
        return rows
    rows = _status(database_url, table)
    return rows if table else [row for row in rows if row.record.state in ACTIVE_STATES]


def _status(database_url: str, table: str | None) -> list[StatusRow]:
    from psycopg import sql

    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.catalog import TableRef
    from bluegreen.errors import NoActiveMigration
    from bluegreen.results import StatusRow

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.status(database_url, table)
    with dialects.pg_connect(database_url) as conn:
        store = _store(conn)
        if table:
            key = TableRef.parse(table).key
            record = store.active(key) or store.latest(key)
            if record is None:
                raise NoActiveMigration(key, "start one with `bluegreen copy`")
            records = [record]
        else:
            records = store.all_recent()
        rows = []
        for record in records:
            backlog = None
            if record.state in ("copying", "synced", "cut_over", "rolled_back"):
                exists = conn.execute("SELECT to_regclass(%s)",
                                      (f"bluegreen.{record.queue_table}",)).fetchone()[0]
                if exists:
                    backlog = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                        sql.Identifier("bluegreen", record.queue_table))).fetchone()[0]
            rows.append(StatusRow(record, backlog))
        return rows


def set_paused(database_url: str, table: str, paused: bool):
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.catalog import TableRef

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.set_paused(database_url, table, paused)
    from bluegreen.engines.postgresql.throttle import notify_control

    with dialects.pg_connect(database_url) as conn:
        record = _store(conn).set_paused(TableRef.parse(table).key, paused)
        notify_control(conn)  # the copy's throttle hears it at once, not at its next poll
        return record


def _active(store, table: str, states: tuple[str, ...], action: str):
    from bluegreen.core.state import require_active
    from bluegreen.engines.postgresql.catalog import TableRef

    return require_active(store, [TableRef.parse(table).key], states, action,
                          hint=f"nothing to {action}")[0]

def verify(database_url: str, table: str, *, repair: bool = False, chunk_rows: int = 50_000):
    """Compare live and shadow by chunked checksums; re-sync differing ranges with repair."""
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.catalog import check_identity
    from bluegreen.engines.postgresql.copy import open_migration
    from bluegreen.engines.postgresql.verify import verify as run_verify

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.verify(database_url, table, repair=repair, chunk_rows=chunk_rows)
    with dialects.pg_connect(database_url, "bluegreen-verify") as conn:
        store = _store(conn)
        record = _active(store, table, ("copying", "synced", "rolled_back"), "verify")
        check_identity(conn, record, "verify")
        if not (record.backfill_done and record.indexes_built):
            raise BluegreenError(f"the backfill of {record.table_name} is not finished; run "
                                 "`bluegreen copy` until it is synced, then verify")
        return run_verify(conn, open_migration(conn, record), chunk_rows, repair)


def abort_statements(conn, record) -> list[str]:
    """What abort drops: the capture (or reverse) triggers, their functions, the queue, and
    the shadow, but only a shadow that is the table this migration created (its OID): a
    table someone re-created under that name is not bluegreen's to drop."""
    from psycopg import sql

    from bluegreen.engines.postgresql import capture
    from bluegreen.engines.postgresql.catalog import TableRef, current_oid
    from bluegreen.engines.postgresql.copy import names_for
    from bluegreen.engines.postgresql.reverse import drop_reverse_ddl, unsynced_table

    ref = TableRef.parse(record.table_name)
    shadow, _, queue = names_for(ref, record.id)
    # The triggers are found by their functions, on whatever table they are now (a table
    # renamed away by someone else still carries them).
    out = [f"DROP TRIGGER {sql.Identifier(name).as_string(conn)} ON {table}"
           for name, table in conn.execute(
               "SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t JOIN pg_proc p ON "
               "p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace WHERE "
               "n.nspname = 'bluegreen' AND p.proname = ANY(%s)",
               ([f"{queue.name}_capture", f"{queue.name}_truncate", f"reverse_{record.id}",
                 f"reverse_{record.id}_truncate"],))]
    out += drop_reverse_ddl(conn, record, ref)
    out += [s.as_string(conn) for s in capture.drop_ddl(ref, queue)]
    if record.state != "cut_over":
        now = current_oid(conn, shadow)
        if now is not None and record.shadow_oid in (None, now):
            out.append(sql.SQL("DROP TABLE IF EXISTS {}").format(shadow.ident).as_string(conn))
    out.append(sql.SQL("DROP TABLE IF EXISTS {}").format(
        unsynced_table(record).ident).as_string(conn))
    return out


def abort(database_url: str, table: str, *, dry_run: bool = False, lock_timeout_ms: int = 500):
    """Before cutover: drop the shadow, the triggers and the queue; the live table stays.

    A migration whose tables were replaced by someone else (see check_identity) can be
    aborted in any active state: then only bluegreen's own objects are dropped."""
    import time

    import psycopg

    from bluegreen.core.state import ACTIVE_STATES
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.catalog import check_identity
    from bluegreen.engines.postgresql.throttle import notify_control
    from bluegreen.errors import TableReplaced

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.abort(database_url, table, dry_run=dry_run)
    with dialects.pg_connect(database_url, "bluegreen-abort") as conn:
        store = _store(conn)
        record = _active(store, table, ACTIVE_STATES, "abort")
        if record.state == "cut_over":
            try:
                check_identity(conn, record, "abort")
            except TableReplaced:
                pass  # the tables are not what the migration made: forget it
            else:
                raise BluegreenError(
                    f"cannot abort {record.table_name}: it is cut over; roll it back first "
                    f"(`bluegreen rollback {record.table_name}`), or finish it")
        statements = abort_statements(conn, record)
        if dry_run:
            return record, statements
        for attempt in range(10):
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("DELETE FROM bluegreen.chunks WHERE migration_id = %s",
                                 (record.id,))
                    record = store.transition(record, ACTIVE_STATES, "aborted", "abort",
                                              finished_at=conn.execute("SELECT now()"
                                                                       ).fetchone()[0])
                notify_control(conn)  # a copy still running stops now, with one line
                return record, statements
            except psycopg.errors.LockNotAvailable:
                time.sleep(min(5.0, 0.2 * 2 ** attempt))
        raise BluegreenError(f"could not lock {record.table_name} to drop the capture trigger; "
                             "retry when it is quieter")


# ---- cutover, rollback, finish ---------------------------------------------------------------

def _finish_pending_validation(conn, store, tables: list[str]):
    """A cutover killed after its commit but before validating the re-created foreign keys:
    validate them now and report the cutover as done."""
    import json as json_mod

    from bluegreen.engines.postgresql.catalog import TableRef
    from bluegreen.results import SwitchResult

    records = [store.active(TableRef.parse(t).key) for t in tables]
    if not records or any(r is None or r.state != "cut_over" or
                          not r.detail.get("pending_validation") for r in records):
        return None
    from bluegreen.engines.postgresql.switch import validate

    for record in records:
        for item in record.detail["pending_validation"]:
            validate(conn, item)
        detail = dict(record.detail, pending_validation=[])
        store.update(record, detail=json_mod.dumps(detail))
    return SwitchResult([r.table_name for r in records], "cutover", 0.0, 0, [],
                        ["already cut over; validated the foreign keys left pending"],
                        [store.get(r.id) for r in records])


def cutover(database_url: str, tables: list[str], *, lock_timeout_ms: int = 500,
            retries: int = 10, reverse_sync: bool = True, dry_run: bool = False,
            on_event=None):
    """Switch every table named to its shadow in one transaction (live -> old, shadow ->
    live), moving what follows the OID, with reverse sync for a lossless rollback."""
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.switch import switch

    on_event = _redacted(on_event)
    if is_sqlite(database_url):
        from bluegreen.engines.postgresql.switch import run_switch
        from bluegreen.engines.sqlite import runtime as sqlite

        with sqlite.switch_engine(database_url) as engine:
            return run_switch(engine, tables, "cutover", lock_timeout_ms=lock_timeout_ms,
                              retries=retries, reverse_sync=reverse_sync, dry_run=dry_run,
                              on_event=on_event)
    try:
        with dialects.pg_connect(database_url, "bluegreen-cutover") as conn:
            store = _store(conn)
            if not dry_run:
                done = _finish_pending_validation(conn, store, tables)
                if done is not None:
                    return done
            return switch(conn, store, tables, "cutover", lock_timeout_ms=lock_timeout_ms,
                          retries=retries, reverse_sync=reverse_sync, dry_run=dry_run,
                          on_event=on_event)
    except KeyboardInterrupt:
        raise _interrupted(database_url, tables[0], "cutover",
                           f"bluegreen cutover {' '.join(tables)}") from None


def rollback(database_url: str, tables: list[str], *, lock_timeout_ms: int = 500,
             retries: int = 10, dry_run: bool = False, on_event=None,
             accept_loss: bool = False):
    """Cutover in reverse: the old table comes back under the live name, with every write
    made since cutover; forward capture resumes so cutover can run again. Refused while
    writes since cutover could not be carried back to the old shape, unless
    ``accept_loss``."""
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.switch import switch

    on_event = _redacted(on_event)
    if is_sqlite(database_url):
        from bluegreen.engines.postgresql.switch import run_switch
        from bluegreen.engines.sqlite import runtime as sqlite

        with sqlite.switch_engine(database_url) as engine:
            return run_switch(engine, tables, "rollback", lock_timeout_ms=lock_timeout_ms,
                              retries=retries, dry_run=dry_run, on_event=on_event)
    try:
        with dialects.pg_connect(database_url, "bluegreen-rollback") as conn:
            return switch(conn, _store(conn), tables, "rollback",
                          lock_timeout_ms=lock_timeout_ms, retries=retries, dry_run=dry_run,
                          on_event=on_event, accept_loss=accept_loss)
    except KeyboardInterrupt:
        raise _interrupted(database_url, tables[0], "rollback",
                           f"bluegreen rollback {' '.join(tables)}") from None


def finish(database_url: str, tables: list[str], *, lock_timeout_ms: int = 500,
           dry_run: bool = False):
    """The contract step: drop the old table, every trigger and the queue."""
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.switch import finish as run_finish

    if is_sqlite(database_url):
        from bluegreen.engines.sqlite import runtime as sqlite

        return sqlite.finish(database_url, tables, dry_run=dry_run)
    try:
        with dialects.pg_connect(database_url, "bluegreen-finish") as conn:
            return run_finish(conn, _store(conn), tables, lock_timeout_ms=lock_timeout_ms,
                              dry_run=dry_run)
    except KeyboardInterrupt:
        raise _interrupted(database_url, tables[0], "finish",
                           f"bluegreen finish {' '.join(tables)}") from None


def describe(database_url: str, tables: list[str]) -> list:
    """The active migrations of these tables, for a confirmation prompt."""
    from bluegreen.engines import urls as dialects
    from bluegreen.engines.postgresql.catalog import TableRef
    from bluegreen.errors import NoActiveMigration

    if is_sqlite(database_url):
        rows = [status(database_url, t)[0] for t in tables]
        return [r.record for r in rows]
    with dialects.pg_connect(database_url) as conn:
        store = _store(conn)
        out = []
        for table in tables:
            record = store.active(TableRef.parse(table).key)
            if record is None:
                raise NoActiveMigration(TableRef.parse(table).key,
                                        "start one with `bluegreen copy`")
            out.append(record)
        return out


__all__ = ["BluegreenError", "plan", "plan_exit_code", "read_statements", "load_schema_file",
           "init", "copy", "status", "set_paused", "verify", "abort", "cutover", "rollback",
           "finish"]


# ---- apply and revert: a whole migration ---------------------------------------------------

def apply(paths: list[str | Path], database_url: str, *, options=None,
          from_rev: str | None = None, to_rev: str | None = None, dry_run: bool = False,
          on_event=None):
    """Run one phase (expand or contract) of a migration's revisions, recorded and
    resumable (see bluegreen.core.apply.runner)."""
    from bluegreen import engines
    from bluegreen.core.apply.revisions import load_revisions
    from bluegreen.core.apply.runner import ApplyOptions, run_apply

    engine = engines.apply_engine(database_url)
    try:
        revisions = load_revisions(paths, from_rev=from_rev, to_rev=to_rev,
                                   sqlite=engine.dialect == "sqlite")
        return run_apply(engine, revisions, options or ApplyOptions(), dry_run=dry_run,
                         on_event=on_event or (lambda event: None))
    finally:
        engine.close()


def revert(paths: list[str | Path], database_url: str, *, options=None,
           from_rev: str | None = None, to_rev: str | None = None, dry_run: bool = False,
           confirm=None, on_event=None):
    """Undo the expand phase of a migration's revisions, newest step first."""
    from bluegreen import engines
    from bluegreen.core.apply.revert import run_revert
    from bluegreen.core.apply.revisions import load_revisions
    from bluegreen.core.apply.runner import ApplyOptions

    engine = engines.apply_engine(database_url)
    try:
        revisions = load_revisions(paths, from_rev=from_rev, to_rev=to_rev,
                                   sqlite=engine.dialect == "sqlite")
        return run_revert(engine, revisions, options or ApplyOptions(), dry_run=dry_run,
                          confirm=confirm, on_event=on_event or (lambda event: None))
    finally:
        engine.close()


def apply_status(database_url: str) -> list[dict]:
    """Every revision apply has recorded: its phases and steps done, and a running step."""
    from bluegreen import engines
    from bluegreen.core.apply.model import ApplyPhase

    engine = engines.apply_engine(database_url)
    try:
        out = []
        for record in engine.store.all_revisions():
            row = {"revision": record.label, "source": record.source,
                   "expand": record.expand_state, "contract": record.contract_state}
            for phase in ApplyPhase:
                steps = engine.store.steps(record.id, phase)
                row[f"{phase.value}_steps"] = [sum(s.status == "done" for s in steps),
                                               len(steps)]
                running = next((s for s in steps if s.status in ("running", "failed")), None)
                if running is not None:
                    row["step"] = {"phase": phase.value, "seq": running.seq,
                                   "description": running.description,
                                   "status": running.status, "error": running.error}
            out.append(row)
        return out
    finally:
        engine.close()
