"""bluegreen copy / verify / abort: the shadow table."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen import commands, config
from bluegreen.cli import render
from bluegreen.cli.common import (
    DatabaseUrl,
    DryRun,
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


def _chunk_size(value: str) -> int | None:
    if value == "auto":
        return None
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise BadOption(f"--chunk-size {value!r}: give a number of rows or 'auto'")


def copy(
    table: Annotated[str, typer.Argument(metavar="TABLE",
                                         help="The live table (TABLE or SCHEMA.TABLE).")],
    alter: Annotated[str | None, typer.Option(
        "--alter", metavar="SQL", show_default=False,
        help='The change, e.g. "ALTER TABLE t ALTER COLUMN id TYPE bigint". Omit it to resume '
             "a copy.")] = None,
    database_url: DatabaseUrl = None,
    chunk_size: Annotated[str, typer.Option(
        "--chunk-size", metavar="N|auto",
        help="Rows per chunk, or auto (about --chunk-seconds each).")] = "auto",
    chunk_seconds: Annotated[float, typer.Option(
        "--chunk-seconds", metavar="SECONDS", min=0.01,
        help="Target time per chunk with --chunk-size auto.")] = 0.5,
    max_rows_per_second: Annotated[float | None, typer.Option(
        "--max-rows-per-second", metavar="N", min=1, show_default=False,
        help="Token-bucket limit on copied rows. Default: no limit.")] = None,
    max_replication_lag: Annotated[float | None, typer.Option(
        "--max-replication-lag", metavar="SECONDS", min=0, show_default=False,
        help="Back off while a replica lags more.")] = None,
    max_active_sessions: Annotated[int | None, typer.Option(
        "--max-active-sessions", metavar="N", min=1, show_default=False,
        help="Back off while more sessions are active.")] = None,
    throttle_query: Annotated[str | None, typer.Option(
        "--throttle-query", metavar="SQL", show_default=False,
        help="Back off while this query returns true.")] = None,
    workers: Annotated[int, typer.Option("--workers", metavar="N", min=1,
                                         help="Parallel chunk copiers.")] = 2,
    sync_threshold: Annotated[int, typer.Option(
        "--sync-threshold", metavar="N", min=0,
        help="Synced once the backlog is below this many keys.")] = 1000,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep replaying after sync until interrupted or cut over.")] = False,
    cutover: Annotated[bool, typer.Option(
        "--cutover", help="Cut over as soon as the shadow is synced: copy and cutover in one "
                          "command, as a pipeline runs them.")] = False,
    lock_timeout: LockTimeout = config.LOCK_TIMEOUT_MS,
    retries: Retries = config.RETRIES,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print every SQL statement; run none.")] = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Build a shadow table with the new shape and keep it in sync with the live one.

    Killed or interrupted at any point, the same command resumes from its checkpoint. With
    --cutover it then cuts over, as `bluegreen cutover TABLE` would.
    """
    from bluegreen.core.copy import CopyOptions
    from bluegreen.core.pace import ThrottleSettings

    url = require_url(database_url)
    if cutover and follow:
        raise BadOption("--cutover and --follow do not go together: --follow keeps the shadow "
                        "in sync until you cut over; drop one of them")
    if dry_run:
        if alter is None:
            raise BadOption("--dry-run needs --alter")
        if cutover:
            raise BadOption("--dry-run prints the copy's SQL only; drop --cutover, and run "
                            f"`bluegreen cutover {table} --dry-run` once the copy is synced")
        render.sql_list(commands.copy_dry_run(url, table, alter), output is Format.json)
        return
    options = CopyOptions(
        chunk_size=_chunk_size(chunk_size), workers=workers, sync_threshold=sync_threshold,
        follow=follow, target_chunk_seconds=chunk_seconds, lock_timeout_ms=lock_timeout,
        throttle=ThrottleSettings(max_rows_per_second, max_replication_lag,
                                  max_active_sessions, throttle_query))
    with render.CopyDisplay(json_lines=output is Format.json) as display:
        result = commands.copy(url, table, alter, options, on_progress=display.progress,
                               on_event=display.event)
    as_json = output is Format.json
    render.copy_done(result, as_json, cutover_next=cutover)
    if cutover and not result.already:
        switched = commands.cutover(url, [table], lock_timeout_ms=lock_timeout, retries=retries,
                                    on_event=render.event_line)
        render.switch_result(switched, as_json, json_line=True)


def verify(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="The table being copied.")],
    database_url: DatabaseUrl = None,
    repair: Annotated[bool, typer.Option("--repair", help="Re-sync differing ranges.")] = False,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", metavar="N", min=1,
                                            help="Rows per checksum.")] = 50_000,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Compare the live and shadow tables by chunked checksums. Exit 1 if they differ."""
    result = commands.verify(require_url(database_url), table, repair=repair,
                             chunk_rows=chunk_rows)
    render.verify_result(result, output is Format.json)
    raise typer.Exit(0 if result.equal or repair else 1)


def abort(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="The table being copied.")],
    database_url: DatabaseUrl = None,
    lock_timeout: LockTimeout = config.LOCK_TIMEOUT_MS,
    dry_run: DryRun = False,
    yes: Yes = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Before cutover: drop the shadow, the capture trigger and the queue."""
    url = require_url(database_url)
    if not dry_run and not yes:
        preview = commands.abort(url, table, dry_run=True)
        if not preview.already:
            render.sql_list(preview.statements, False)
            render.confirm(f"Drop the shadow copy of {table} and stop capturing its writes?")
    done = commands.abort(url, table, dry_run=dry_run, lock_timeout_ms=lock_timeout)
    record, statements, already = done.record, done.statements, done.already
    if dry_run:
        render.sql_list(statements, output is Format.json)
    elif output is Format.json:
        render.write_json(dict(record.to_dict(), already=already))
    elif already:
        render.line(f"{record.table_name}: already aborted; nothing to do")
    else:
        render.line(f"aborted: the shadow, trigger and queue of {record.table_name} are gone; "
                    "the live table is as it was")
