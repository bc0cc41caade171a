"""bluegreen cutover / rollback / finish: the switch, the way back, the contract step."""

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

Tables = Annotated[list[str], typer.Argument(
    metavar="TABLE", show_default=False, help="One or more tables, switched together.")]


def _confirm(url: str, tables: list[str], what: str, yes: bool, done: str) -> None:
    """Ask first, unless --yes or every table is already ``done`` (nothing will change)."""
    from bluegreen.core.state import ENDED_STATES

    if yes:
        return
    records = commands.describe(url, tables)
    if all(r.state == done for r in records) or any(r.state in ENDED_STATES
                                                    for r in records):
        return  # nothing will change, or the command refuses: nothing to confirm
    for record in records:
        render.line(f"  {record.table_name}: {record.state}, {record.alter_sql or '(rebuild)'}")
    render.confirm(what)


def cutover(
    tables: Tables,
    database_url: DatabaseUrl = None,
    lock_timeout: LockTimeout = config.LOCK_TIMEOUT_MS,
    retries: Retries = config.RETRIES,
    no_reverse_sync: Annotated[bool, typer.Option(
        "--no-reverse-sync", help="Cut over even where writes cannot be synced back; a "
                                  "rollback then loses them.")] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Switch the tables to their shadows: live -> old, shadow -> live, in one transaction."""
    url = require_url(database_url)
    if dry_run:
        result = commands.cutover(url, tables, lock_timeout_ms=lock_timeout, retries=retries,
                                  reverse_sync=not no_reverse_sync, dry_run=True)
        render.sql_list(result.statements, output is Format.json)
        return
    _confirm(url, tables, f"Cut over {', '.join(tables)} to the new shape?", yes, "cut_over")
    result = commands.cutover(url, tables, lock_timeout_ms=lock_timeout, retries=retries,
                              reverse_sync=not no_reverse_sync, on_event=render.event_line)
    render.switch_result(result, output is Format.json)


def rollback(
    tables: Tables,
    database_url: DatabaseUrl = None,
    lock_timeout: LockTimeout = config.LOCK_TIMEOUT_MS,
    retries: Retries = config.RETRIES,
    accept_loss: Annotated[bool, typer.Option(
        "--accept-loss", help="Roll back even though some writes since cutover do not fit "
                              "the old shape; they are lost in the old table.")] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Switch back: the old table returns under the live name with every write since."""
    url = require_url(database_url)
    if dry_run:
        result = commands.rollback(url, tables, lock_timeout_ms=lock_timeout, retries=retries,
                                   dry_run=True, accept_loss=accept_loss)
        render.sql_list(result.statements, output is Format.json)
        return
    _confirm(url, tables, f"Roll {', '.join(tables)} back to the old shape?", yes,
             "rolled_back")
    result = commands.rollback(url, tables, lock_timeout_ms=lock_timeout, retries=retries,
                               on_event=render.event_line, accept_loss=accept_loss)
    render.switch_result(result, output is Format.json)


def finish(
    tables: Tables,
    database_url: DatabaseUrl = None,
    lock_timeout: LockTimeout = config.LOCK_TIMEOUT_MS,
    dry_run: DryRun = False,
    yes: Yes = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """The contract step: drop the old tables, the triggers and the queues."""
    url = require_url(database_url)
    if dry_run:
        _, statements = commands.finish(url, tables, lock_timeout_ms=lock_timeout,
                                        dry_run=True)
        render.sql_list(statements, output is Format.json)
        return
    _confirm(url, tables, f"Drop the old version of {', '.join(tables)} for good?", yes,
             "finished")
    done = commands.finish(url, tables, lock_timeout_ms=lock_timeout)
    records, already = done.records, done.already
    if output is Format.json:
        render.write_json([dict(r.to_dict(), already=already) for r in records])
    else:
        for record in records:
            render.line(f"{record.table_name}: already finished; nothing to do" if already
                        else f"{record.table_name}: finished; the old table, triggers and "
                        "queue are gone")
