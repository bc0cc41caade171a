"""bluegreen's commands as plain functions returning result objects: the Python API.

Nothing here prints; the CLI renders what these return.
"""

from __future__ import annotations

from pathlib import Path

from bluegreen import dialects
from bluegreen.errors import BadOption, BluegreenError, InputNotFound
from bluegreen.planner import ops
from bluegreen.planner.engine import build_plan
from bluegreen.planner.model import Phase, Plan, Target
from bluegreen.planner.schema import Schema
from bluegreen.planner.sources import alembic as alembic_source
from bluegreen.planner.sources.sql import parse_sql

DEFAULT_PG_VERSION = 15


def read_statements(paths: list[str | Path], *, from_rev: str | None = None,
                    to_rev: str | None = None) -> list[ops.Statement]:
    """Every statement of the given SQL files, Alembic revisions and versions directories,
    in order."""
    statements: list[ops.Statement] = []
    for raw in paths:
        path = Path(raw)
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
            statements += parse_sql(_read_text(path), str(raw))
    return statements


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadOption(f"{path}: not UTF-8 text; pass a .sql file or a .py revision") from None
    except OSError as error:
        raise BadOption(f"{path}: cannot read it ({error.strerror})") from None


def _revision_statements(path: Path) -> list[ops.Statement]:
    module = alembic_source.load_revision(path)
    return alembic_source.record_upgrade(module, path)


def load_schema_file(path: str | Path) -> Schema:
    """The schema described by a DDL file such as ``pg_dump --schema-only`` output."""
    file = Path(path)
    if not file.is_file():
        raise BadOption(f"--schema {path}: no such file; pass a DDL file such as "
                        "`pg_dump --schema-only` output")
    return schema_from_sql(_read_text(file), str(path), description=f"--schema {path}")


def schema_from_sql(text: str, source: str, *, description: str | None = None) -> Schema:
    """The schema that running ``text`` (DDL) on an empty database leaves behind."""
    schema = Schema(known=True, description=description or source)
    for statement in parse_sql(text, source):
        for op in statement.ops:
            schema.apply(op, in_migration=False)
    return schema


def load_database_schema(url: str) -> tuple[Schema, int]:
    from bluegreen.dialects import postgresql

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
) -> Plan:
    """Judge every statement of a migration: phase, blocking, strategy, findings, steps."""
    if schema_file and database_url:
        raise BadOption("give --schema or --database-url, not both")
    if pg_version is not None and not 9 <= pg_version <= 30:
        raise BadOption(f"--pg-version {pg_version}: give a major version such as 15")
    statements = read_statements(paths, from_rev=from_rev, to_rev=to_rev)
    schema = Schema()
    server_version = None
    if schema_file:
        schema = load_schema_file(schema_file)
    elif database_url:
        schema, server_version = load_database_schema(database_url)
    if pg_version is not None:
        target = Target("postgresql", pg_version, "option")
    elif server_version is not None:
        target = Target("postgresql", server_version, "database")
    else:
        target = Target("postgresql", DEFAULT_PG_VERSION, "default")
    return build_plan(statements, schema, target)


def plan_exit_code(result: Plan, phase: str | None = None) -> int:
    """0 clean; 1 when something is breaking, blocking or an error, or when ``phase`` is
    given and a change belongs to another phase."""
    if any(change.is_problem for change in result.changes):
        return 1
    if phase is not None:
        wanted = Phase(phase)
        if any(c.phase is not wanted and not c.neutral for c in result.changes):
            return 1
    return 0


__all__ = ["BluegreenError", "plan", "plan_exit_code", "read_statements", "load_schema_file"]
