"""bluegreen apply / revert: a whole migration, phase by phase, and the way back."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from bluegreen import commands
from bluegreen.cli import render
from bluegreen.cli.common import (
    DatabaseUrl,
    Format,
    FormatOption,
    LockTimeout,
    Quiet,
    Retries,
    Verbose,
    Yes,
    require_url,
)
from bluegreen.errors import BadOption

# A step's own lock wait: longer than a cutover's, since a step is one statement that gives
# way and retries; a config file's lock-timeout applies to both.
APPLY_LOCK_TIMEOUT_MS = 2000

Paths = Annotated[list[Path], typer.Argument(
    metavar="PATH", show_default=False,
    help="SQL files (or a folder of them), Alembic revision files or an Alembic versions "
         "directory, in order.")]
FromRev = Annotated[str | None, typer.Option(
    "--from", metavar="REV", help="Alembic revision to start after (exclusive).")]
ToRev = Annotated[str | None, typer.Option(
    "--to", metavar="REV", help="Alembic revision to stop at (inclusive).")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Print every statement, in order, as a psql script; run none.")]


class PhaseName(str, Enum):
    expand = "expand"
    contract = "contract"


def _options(phase: str, lock_timeout: int, retries: int, allow_unsafe: bool = False,
             max_rows_per_second: float | None = None,
             max_replication_lag: float | None = None,
             max_active_sessions: int | None = None, throttle_query: str | None = None,
             chunk_rows: int | None = None, workers: int = 2,
             version_table: str = "alembic_version", version_table_schema: str | None = None):
    from bluegreen.core.apply.model import ApplyPhase
    from bluegreen.core.apply.runner import ApplyOptions
    from bluegreen.core.copy import CopyOptions
    from bluegreen.core.pace import ThrottleSettings

    if lock_timeout < 1:
        raise BadOption("--lock-timeout must be at least 1 (ms)")
    if retries < 0:
        raise BadOption("--retries cannot be negative")
    if chunk_rows is not None and chunk_rows < 1:
        raise BadOption("--chunk-rows must be at least 1")
    if workers < 1:
        raise BadOption("--workers must be at least 1")
    throttle = ThrottleSettings(max_rows_per_second, max_replication_lag, max_active_sessions,
                                throttle_query)
    return ApplyOptions(
        phase=ApplyPhase(phase), lock_timeout_ms=lock_timeout, retries=retries,
        allow_unsafe=allow_unsafe, throttle=throttle, chunk_rows=chunk_rows,
        copy_options=CopyOptions(workers=workers, throttle=throttle,
                                 lock_timeout_ms=lock_timeout),
        version_table=version_table, version_schema=version_table_schema)


def apply(
    paths: Paths,
    phase: Annotated[PhaseName, typer.Option(
        "--phase", metavar="expand|contract", show_default=False,
        help="expand: before the new app is deployed (blue keeps working); contract: once "
             "the old app is retired.")],
    database_url: DatabaseUrl = None,
    from_rev: FromRev = None,
    to_rev: ToRev = None,
    lock_timeout: LockTimeout = APPLY_LOCK_TIMEOUT_MS,
    retries: Retries = 10,
    allow_unsafe: Annotated[bool, typer.Option(
        "--allow-unsafe", help="Run statements the planner judges unsafe and cannot split, "
                               "as written (under the lock timeout).")] = False,
    max_rows_per_second: Annotated[float | None, typer.Option(
        "--max-rows-per-second", metavar="N", help="Throttle for backfills and copies.")
    ] = None,
    max_replication_lag: Annotated[float | None, typer.Option(
        "--max-replication-lag", metavar="SECONDS",
        help="Back off while a replica lags more.")] = None,
    max_active_sessions: Annotated[int | None, typer.Option(
        "--max-active-sessions", metavar="N",
        help="Back off while more sessions are active.")] = None,
    throttle_query: Annotated[str | None, typer.Option(
        "--throttle-query", metavar="SQL", help="Back off while this query returns true.")
    ] = None,
    chunk_rows: Annotated[int | None, typer.Option(
        "--chunk-rows", metavar="N",
        help="Rows per backfill range. Default: adapt to about 0.5 s each.")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", metavar="N", help="Parallel chunk copiers for shadow copies.")] = 2,
    version_table: Annotated[str, typer.Option(
        "--version-table", metavar="NAME",
        help="The app's Alembic version table, stamped after contract.")] = "alembic_version",
    version_table_schema: Annotated[str | None, typer.Option(
        "--version-table-schema", metavar="SCHEMA",
        help="Its schema. Default: the search path's.")] = None,
    dry_run: DryRun = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Run one phase of a migration: every revision in order, each step recorded.

    A rerun skips what is done and resumes what was interrupted. Exit codes: 0 done (or
    nothing to do); 1 refused for safety (nothing ran); 2 bad input or a step failed.
    """
    url = require_url(database_url)
    options = _options(phase.value, lock_timeout, retries, allow_unsafe, max_rows_per_second,
                       max_replication_lag, max_active_sessions, throttle_query, chunk_rows,
                       workers, version_table, version_table_schema)
    as_json = output is Format.json
    if dry_run:
        result = commands.apply(paths, url, options=options, from_rev=from_rev, to_rev=to_rev,
                                dry_run=True)
        render.apply_dry_run(result, as_json)
        return
    with render.ApplyDisplay(json_lines=as_json) as display:
        result = commands.apply(paths, url, options=options, from_rev=from_rev, to_rev=to_rev,
                                on_event=display.event)
    render.apply_done(result, as_json)


def revert(
    paths: Paths,
    database_url: DatabaseUrl = None,
    from_rev: FromRev = None,
    to_rev: ToRev = None,
    lock_timeout: LockTimeout = APPLY_LOCK_TIMEOUT_MS,
    retries: Retries = 10,
    dry_run: DryRun = False,
    yes: Yes = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Undo the expand phase of a migration, newest step first: roll back cut-over tables,
    drop what expand added, remove the sync triggers. Refused once contract has started.
    """
    url = require_url(database_url)
    options = _options("expand", lock_timeout, retries)
    as_json = output is Format.json

    def confirm(plan) -> bool:
        if yes:
            return True
        render.revert_losses(plan)
        render.confirm("Drop these values for good and revert?")
        return True

    if dry_run:
        result = commands.revert(paths, url, options=options, from_rev=from_rev,
                                 to_rev=to_rev, dry_run=True)
        render.revert_dry_run(result, as_json)
        return
    with render.ApplyDisplay(json_lines=as_json) as display:
        result = commands.revert(paths, url, options=options, from_rev=from_rev,
                                 to_rev=to_rev, confirm=confirm, on_event=display.event)
    render.revert_done(result, as_json)
