"""bluegreen's commands as plain functions returning result objects: the Python API.

Nothing here prints; the CLI renders what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BadOption, BluegreenError, InputNotFound

if TYPE_CHECKING:
    from bluegreen.planner import ops
    from bluegreen.planner.model import Plan
    from bluegreen.planner.schema import Schema
    from bluegreen.results import StatusRow

# Imports of database libraries (SQLAlchemy, Alembic, psycopg, pglast) live inside the
# functions: `bluegreen --help` and `import bluegreen.commands` load none of them, and
# planning SQL loads pglast alone (tests/cli/test_startup.py checks it).

DEFAULT_PG_VERSION = 15  # the planner's default target (see planner.model.TARGETS)


def read_statements(paths: Sequence[str | Path], *, from_rev: str | None = None,
                    to_rev: str | None = None, sqlite: bool = False,
                    single_transaction: bool = False,
                    stdin_text: str | None = None) -> list[ops.Statement]:
    """Every statement of the given SQL files, Alembic revisions and versions directories,
    in order. A SQL file runs statement by statement (as psql runs it) unless
    ``single_transaction`` (psql --single-transaction, Flyway, golang-migrate...) or a goose
    or dbmate header says its tool runs it in one transaction. A path ``-`` is SQL given as
    ``stdin_text`` (named ``stdin`` in the plan)."""
    from bluegreen.core.apply.revisions import read_text
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
            from bluegreen.planner.sources import alembic as alembic_source  # Alembic input

            files = alembic_source.revision_files(path, from_rev, to_rev)
            if not files:
                raise BadOption(f"{raw}: no Alembic revisions found; pass a versions "
                                "directory or check --from/--to")
            for file in files:
                statements += _revision_statements(file)
        elif path.suffix == ".py":
            statements += _revision_statements(path)
        else:
            text, tool_transaction = migration_file(_sql_text(read_text(path), sqlite))
            statements += parse_sql(text, str(raw),
                                    in_transaction=single_transaction or bool(tool_transaction))
    return statements


def _sql_text(text: str, sqlite: bool) -> str:
    from bluegreen.core.apply.sqltext import sqlite_text

    return sqlite_text(text) if sqlite else text


def _revision_statements(path: Path) -> list[ops.Statement]:
    from bluegreen.planner.sources import alembic as alembic_source

    # Absolute: Python names the revision's code by its absolute path, and the recorder
    # finds each op's line by that name (a bare `0003_x.py` would give line 0).
    path = path.resolve()
    module = alembic_source.load_revision(path)
    return alembic_source.record_upgrade(module, path)


def load_schema_file(path: str | Path, *, sqlite: bool = False) -> Schema:
    """The schema described by a DDL file such as ``pg_dump --schema-only`` output."""
    from bluegreen.core.apply.revisions import read_text

    file = Path(path)
    if not file.is_file():
        raise BadOption(f"--schema {path}: no such file; pass a DDL file such as "
                        "`pg_dump --schema-only` output")
    return schema_from_sql(_sql_text(read_text(file), sqlite), str(path),
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


def database_dialect(database_url: str) -> str:
    """The planner target of a database URL (its engine's name)."""
    from bluegreen import engines

    return engines.backend(database_url)


def plan(
    paths: Sequence[str | Path],
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
    from bluegreen.planner.model import TARGETS, Target
    from bluegreen.planner.rules import rule_ids
    from bluegreen.planner.schema import Schema

    if schema_file and database_url:
        raise BadOption("give --schema or --database-url, not both")
    if pg_version is not None and not 9 <= pg_version <= 30:
        raise BadOption(f"--pg-version {pg_version}: give a major version such as 15")
    of_database = database_dialect(database_url) if database_url else None
    dialect = dialect or of_database or "postgresql"
    if dialect not in TARGETS:
        raise BadOption(f"--dialect {dialect}: give {' or '.join(TARGETS)}")
    if of_database is not None and of_database != dialect:
        raise BadOption(f"--dialect {dialect} does not match the database given "
                        f"({TARGETS[of_database].label}); pass a {dialect} database, "
                        "--schema FILE, or no database")
    traits = TARGETS[dialect]
    unknown = sorted(set(disabled_rules or ()) - set(rule_ids()))
    if unknown:
        raise BadOption(f"cannot disable {', '.join(unknown)}: no such rule; the rules are "
                        f"{', '.join(rule_ids())}")
    statements = read_statements(paths, from_rev=from_rev, to_rev=to_rev,
                                 sqlite=traits.extra_keywords,
                                 single_transaction=single_transaction, stdin_text=stdin_text)
    for statement in statements:
        statement.suppressed |= set(disabled_rules or ())
    if as_apply_runs_it:
        from bluegreen.core.apply.build import prepare_statements

        prepare_statements(statements)
    schema = Schema()
    server_version = None
    if schema_file:
        schema = load_schema_file(schema_file, sqlite=traits.extra_keywords)
    elif database_url:
        from bluegreen import engines

        with engines.open(database_url) as engine:
            schema, server_version = engine.introspect()
    if not traits.versioned:
        target = Target(dialect, traits.default_version, "option")
    elif pg_version is not None:
        target = Target(dialect, pg_version, "option")
    elif server_version is not None:
        target = Target(dialect, server_version, "database")
    else:
        target = Target(dialect, traits.default_version, "default")
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


# ---- state, copy, verify, switch, finish: one engine per URL ---------------------------------

def _engine(database_url: str, application: str = "bluegreen"):
    from bluegreen import engines

    return engines.open(database_url, application)


def init(database_url: str) -> tuple[str | None, str]:
    """Create or upgrade bluegreen's state tables; returns (revision before, after)."""
    from bluegreen import engines

    return engines.init_state(database_url)


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


def copy(database_url: str, table: str, alter_sql: str | None, options=None, *,
         on_progress=None, on_event=None):
    """Build the shadow table and keep it in sync (bluegreen.core.copy)."""
    from bluegreen.core.copy import CopyOptions

    with _engine(database_url, "bluegreen-copy") as engine:
        return engine.copy(table, alter_sql, options or CopyOptions(), on_progress,
                           _redacted(on_event))


def copy_dry_run(database_url: str, table: str, alter_sql: str) -> list[str]:
    """Every statement `copy` would run, in order; runs none."""
    with _engine(database_url, "bluegreen-dry-run") as engine:
        return engine.copy_dry_run(table, alter_sql)


def status(database_url: str, table: str | None = None, *,
           history: bool = False) -> list[StatusRow]:
    """The active migrations (of one table: its active, else latest, migration); with
    ``history``, the latest 50 migrations in any state (of one table, if given)."""
    from bluegreen.core.state import ACTIVE_STATES
    from bluegreen.errors import NoActiveMigration
    from bluegreen.results import StatusRow

    with _engine(database_url) as engine:
        store = engine.store
        key = engine.table_key(table) if table else None
        if history:
            records = [r for r in store.all_recent() if key is None or r.table_name == key]
        elif key is not None:
            record = store.active(key) or store.latest(key)
            if record is None:
                raise NoActiveMigration(key, "start one with `bluegreen copy`")
            records = [record]
        else:
            records = [r for r in store.all_recent() if r.state in ACTIVE_STATES]
        return [StatusRow(r, engine.backlog(r)) for r in records]


def set_paused(database_url: str, table: str, paused: bool):
    """Pause or resume a running copy, from any terminal."""
    with _engine(database_url) as engine:
        record = engine.store.set_paused(engine.table_key(table), paused)
        engine.notify_control()  # the copy's throttle hears it at once, not at its next poll
        return record


def verify(database_url: str, table: str, *, repair: bool = False, chunk_rows: int = 50_000):
    """Compare live and shadow by chunked checksums; re-sync differing ranges with repair."""
    from bluegreen.core.verify import verify as run_verify

    with _engine(database_url, "bluegreen-verify") as engine:
        return run_verify(engine, table, repair=repair, chunk_rows=chunk_rows)


def abort(database_url: str, table: str, *, dry_run: bool = False, lock_timeout_ms: int = 500):
    """Before cutover: drop the shadow, the triggers and the queue; the live table stays."""
    from bluegreen.core.finish import abort as run_abort

    with _engine(database_url, "bluegreen-abort") as engine:
        return run_abort(engine, table, dry_run=dry_run, lock_timeout_ms=lock_timeout_ms)


def cutover(database_url: str, tables: list[str], *, lock_timeout_ms: int = 500,
            retries: int = 10, reverse_sync: bool = True, dry_run: bool = False,
            on_event=None):
    """Switch every table named to its shadow in one transaction (live -> old, shadow ->
    live), moving what follows the table, with reverse sync for a lossless rollback."""
    from bluegreen.core.switch import switch

    try:
        with _engine(database_url, "bluegreen-cutover") as engine:
            return switch(engine, tables, "cutover", lock_timeout_ms=lock_timeout_ms,
                          retries=retries, reverse_sync=reverse_sync, dry_run=dry_run,
                          on_event=_redacted(on_event))
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
    from bluegreen.core.switch import switch

    try:
        with _engine(database_url, "bluegreen-rollback") as engine:
            return switch(engine, tables, "rollback", lock_timeout_ms=lock_timeout_ms,
                          retries=retries, dry_run=dry_run, on_event=_redacted(on_event),
                          accept_loss=accept_loss)
    except KeyboardInterrupt:
        raise _interrupted(database_url, tables[0], "rollback",
                           f"bluegreen rollback {' '.join(tables)}") from None


def finish(database_url: str, tables: list[str], *, lock_timeout_ms: int = 500,
           dry_run: bool = False):
    """The contract step: drop the old table, every trigger and the queue."""
    from bluegreen.core.finish import finish as run_finish

    try:
        with _engine(database_url, "bluegreen-finish") as engine:
            return run_finish(engine, tables, dry_run=dry_run, lock_timeout_ms=lock_timeout_ms)
    except KeyboardInterrupt:
        raise _interrupted(database_url, tables[0], "finish",
                           f"bluegreen finish {' '.join(tables)}") from None


def describe(database_url: str, tables: list[str]) -> list:
    """The migrations of these tables, for a confirmation prompt: each one's active
    migration, else its latest when that one finished or was aborted."""
    from bluegreen.core.state import ENDED_STATES
    from bluegreen.errors import NoActiveMigration

    with _engine(database_url) as engine:
        out = []
        for table in tables:
            key = engine.table_key(table)
            active = engine.store.active(key)
            record = active or engine.store.latest(key)
            if record is None or (active is None and record.state not in ENDED_STATES):
                raise NoActiveMigration(key, "start one with `bluegreen copy`")
            out.append(record)
        return out


__all__ = ["BluegreenError", "plan", "plan_exit_code", "read_statements", "load_schema_file",
           "init", "copy", "status", "set_paused", "verify", "abort", "cutover", "rollback",
           "finish"]


# ---- apply and revert: a whole migration ---------------------------------------------------

def apply(paths: Sequence[str | Path], database_url: str, *, options=None,
          from_rev: str | None = None, to_rev: str | None = None, dry_run: bool = False,
          on_event=None):
    """Run one phase (expand or contract) of a migration's revisions, recorded and
    resumable (see bluegreen.core.apply.runner)."""
    from bluegreen import engines
    from bluegreen.core.apply.revisions import load_revisions
    from bluegreen.core.apply.runner import ApplyOptions, run_apply
    from bluegreen.planner.model import TARGETS

    engine = engines.apply_engine(database_url)
    try:
        revisions = load_revisions(paths, from_rev=from_rev, to_rev=to_rev,
                                   extra_keywords=TARGETS[engine.dialect].extra_keywords)
        return run_apply(engine, revisions, options or ApplyOptions(), dry_run=dry_run,
                         on_event=on_event or (lambda event: None))
    finally:
        engine.close()


def revert(paths: Sequence[str | Path], database_url: str, *, options=None,
           from_rev: str | None = None, to_rev: str | None = None, dry_run: bool = False,
           confirm=None, on_event=None):
    """Undo the expand phase of a migration's revisions, newest step first."""
    from bluegreen import engines
    from bluegreen.core.apply.revert import run_revert
    from bluegreen.core.apply.revisions import load_revisions
    from bluegreen.core.apply.runner import ApplyOptions
    from bluegreen.planner.model import TARGETS

    engine = engines.apply_engine(database_url)
    try:
        revisions = load_revisions(paths, from_rev=from_rev, to_rev=to_rev,
                                   extra_keywords=TARGETS[engine.dialect].extra_keywords)
        return run_revert(engine, revisions, options or ApplyOptions(), dry_run=dry_run,
                          confirm=confirm, on_event=on_event or (lambda event: None))
    finally:
        engine.close()


def apply_status(database_url: str) -> list[dict]:
    """Every revision apply has recorded: its phases and steps done, and a running step."""
    from bluegreen.core.apply.model import ApplyPhase
    from bluegreen.core.apply.store import ApplyStore

    # Read through the state store's own session: status needs none of apply's machinery.
    with _engine(database_url) as engine:
        store = ApplyStore(engine.store.db)
        out = []
        for record in store.all_revisions():
            row: dict[str, Any] = {"revision": record.label, "source": record.source,
                   "expand": record.expand_state, "contract": record.contract_state}
            for phase in ApplyPhase:
                steps = store.steps(record.id, phase)
                row[f"{phase.value}_steps"] = [sum(s.status == "done" for s in steps),
                                               len(steps)]
                running = next((s for s in steps if s.status in ("running", "failed")), None)
                if running is not None:
                    row["step"] = {"phase": phase.value, "seq": running.seq,
                                   "description": running.description,
                                   "status": running.status, "error": running.error}
            out.append(row)
        return out
