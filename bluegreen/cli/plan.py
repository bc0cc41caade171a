"""bluegreen plan: judge a migration's statements."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bluegreen import commands
from bluegreen.cli import render


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class FailOn(str, Enum):
    problems = "problems"
    unsafe = "unsafe"


class PhaseOption(str, Enum):
    expand = "expand"
    contract = "contract"


def plan(
    paths: Annotated[list[Path], typer.Argument(
        help="SQL files, Alembic revision files or Alembic versions directories.",
        show_default=False)],
    schema: Annotated[Path | None, typer.Option(
        "--schema", help="DDL of the current schema (e.g. pg_dump --schema-only).")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Read the current schema and version from this database.",
        envvar="BLUEGREEN_DATABASE_URL")] = None,
    pg_version: Annotated[int | None, typer.Option(
        "--pg-version", help="Target PostgreSQL major version [default: server's, else 15].")
    ] = None,
    phase: Annotated[PhaseOption | None, typer.Option(
        "--phase", help="Exit 1 if a change belongs to another phase.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")
                      ] = OutputFormat.text,
    from_rev: Annotated[str | None, typer.Option(
        "--from", help="Alembic revision to start after (exclusive).")] = None,
    to_rev: Annotated[str | None, typer.Option(
        "--to", help="Alembic revision to stop at (inclusive).")] = None,
    dialect: Annotated[str | None, typer.Option(
        "--dialect", help="postgresql or sqlite [default: the database's, else postgresql].")
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="problems: exit 1 on anything breaking or blocking; unsafe: only "
                          "on what `bluegreen apply` would refuse (no safe steps).")
    ] = FailOn.problems,
) -> None:
    """Say each statement's phase (expand / contract / breaking), whether it blocks the
    table, and how to run it safely.

    Exit codes: 0 nothing breaking or blocking; 1 problems found (or a change outside
    --phase); 2 bad input.
    """
    result = commands.plan(
        paths, schema_file=schema, database_url=database_url, pg_version=pg_version,
        from_rev=from_rev, to_rev=to_rev, dialect=dialect,
        as_apply_runs_it=fail_on is FailOn.unsafe)
    if output is OutputFormat.json:
        render.plan_json(result)
    elif output is OutputFormat.github:
        render.plan_github(result)
    else:
        render.plan_text(result)
    raise typer.Exit(commands.plan_exit_code(result, phase.value if phase else None,
                                             fail_on.value))
