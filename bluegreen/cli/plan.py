"""bluegreen plan: judge a migration's statements."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bluegreen import commands, config
from bluegreen.cli import plan_formats, render
from bluegreen.cli.common import DatabaseUrl, Output, Quiet, Verbose
from bluegreen.errors import BadOption


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"
    gitlab = "gitlab"


class FailOn(str, Enum):
    problems = "problems"
    unsafe = "unsafe"


class PhaseOption(str, Enum):
    expand = "expand"
    contract = "contract"


class Dialect(str, Enum):
    postgresql = "postgresql"
    sqlite = "sqlite"


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "PROMPT")


def plan(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(
        metavar="PATH", show_default=False,
        help="SQL files, Alembic revision files or Alembic versions directories; - reads "
             "SQL from standard input.")],
    schema: Annotated[Path | None, typer.Option(
        "--schema", metavar="FILE", show_default=False,
        help="DDL of the current schema (e.g. pg_dump --schema-only).")] = None,
    database_url: DatabaseUrl = None,
    pg_version: Annotated[int | None, typer.Option(
        "--pg-version", metavar="N", show_default=False,
        help=f"Target PostgreSQL major version. Default: the server's, else "
             f"{config.PG_VERSION}.")] = None,
    phase: Annotated[PhaseOption | None, typer.Option(
        "--phase", metavar="expand|contract", show_default=False,
        help="Exit 1 if a change belongs to another phase.")] = None,
    output: Annotated[OutputFormat, typer.Option(
        "--format", metavar="text|json|github|sarif|gitlab", help="Output format.")
    ] = OutputFormat.text,
    from_rev: Annotated[str | None, typer.Option(
        "--from", metavar="REV", show_default=False,
        help="Alembic revision to start after (exclusive).")] = None,
    to_rev: Annotated[str | None, typer.Option(
        "--to", metavar="REV", show_default=False,
        help="Alembic revision to stop at (inclusive).")] = None,
    dialect: Annotated[Dialect | None, typer.Option(
        "--dialect", metavar="postgresql|sqlite", show_default=False,
        help="Rules to judge by. Default: the database's, else postgresql.")] = None,
    disable: Annotated[list[str] | None, typer.Option(
        "--disable", metavar="RULE", show_default=False,
        help="Turn a rule off (repeat for more). Default: the config's disable list.")
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="problems: exit 1 on anything breaking or blocking; unsafe: only "
                          "on what `bluegreen apply` would refuse (no safe steps).")
    ] = FailOn.problems,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Say each statement's phase (expand / contract / breaking), whether it blocks the
    table, and how to run it safely.

    Exit codes: 0 nothing breaking or blocking; 1 problems found (or a change outside
    --phase); 2 bad input.
    """
    if database_url and not _from_command_line(ctx, "database_url") and (
            schema is not None or dialect is not None and
            dialect.value != commands.database_dialect(database_url)):
        # The URL came from the environment: an explicit --schema, or a --dialect of another
        # engine, wins over it (flag > environment), so a deploy job's BLUEGREEN_DATABASE_URL
        # cannot turn `plan --schema FILE` into an error.
        database_url = None
    stdin_text = None
    if any(str(p) == "-" for p in paths):
        if sys.stdin.isatty():
            raise BadOption("plan -: reading SQL from standard input, but it is a terminal; "
                            "pipe the SQL in (e.g. `bluegreen plan - < migration.sql`)")
        stdin_text = sys.stdin.read()
    result = commands.plan(
        paths, schema_file=schema, database_url=database_url, pg_version=pg_version,
        from_rev=from_rev, to_rev=to_rev, dialect=dialect.value if dialect else None,
        disabled_rules=disable or [], stdin_text=stdin_text,
        as_apply_runs_it=fail_on is FailOn.unsafe)
    if output is OutputFormat.json:
        render.plan_json(result)
    elif output is OutputFormat.github:
        render.write(plan_formats.github(result))
    elif output is OutputFormat.sarif:
        from bluegreen.planner.docs import rule_doc
        from bluegreen.planner.rules import all_rules

        docs = {r.id: rule_doc(r) for r in all_rules() if result.target.dialect in r.dialects}
        render.write(plan_formats.sarif(result, docs))
    elif output is OutputFormat.gitlab:
        render.write(plan_formats.gitlab(result))
    else:
        if Output.verbose():
            render.event_line(f"judging for {result.target.dialect} {result.target.version} "
                              f"(from the {result.target.version_source})")
        render.plan_text(result)
    raise typer.Exit(commands.plan_exit_code(result, phase.value if phase else None,
                                             fail_on.value))
