"""bluegreen init / status / pause / resume: the state tables and what they say."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from bluegreen import commands
from bluegreen.cli import render
from bluegreen.cli.common import (
    DatabaseUrl,
    Format,
    FormatOption,
    Quiet,
    Verbose,
    require_url,
)

Table = Annotated[str, typer.Argument(metavar="TABLE", help="The table being copied.")]


def init(database_url: DatabaseUrl = None, verbose: Verbose = 0, quiet: Quiet = False) -> None:
    """Create or upgrade bluegreen's state tables (schema `bluegreen`). Idempotent."""
    before, after = commands.init(require_url(database_url))
    render.init_done(before, after)


def status(
    table: Annotated[str | None, typer.Argument(
        metavar="TABLE", show_default=False,
        help="One table. Default: every table.")] = None,
    database_url: DatabaseUrl = None,
    history: Annotated[bool, typer.Option(
        "--all", help="Finished and aborted migrations too (the latest 50).")] = False,
    output: FormatOption = Format.text,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every second.")] = False,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Show the active migrations: state, rows copied, backlog, pause. With --all, the
    finished and aborted ones too."""
    url = require_url(database_url)
    while True:
        rows = commands.status(url, table, history=history)
        # The revisions bluegreen apply recorded, beside the tables' copies.
        revisions = commands.apply_status(url) if table is None else []
        if output is Format.json:
            data = {"migrations": [r.to_dict() for r in rows], "revisions": revisions}
            render.write_json_line(data) if watch else render.write_json(data)
        else:
            render.status_table(rows, clear=watch)
            render.apply_status_table(revisions)
        if not watch:
            return
        time.sleep(1.0)


def pause(table: Table, database_url: DatabaseUrl = None, verbose: Verbose = 0,
          quiet: Quiet = False) -> None:
    """Pause a running copy (from any terminal); `resume` lets it go on."""
    record = commands.set_paused(require_url(database_url), table, True)
    render.line(f"paused the copy of {record.table_name}")


def resume(table: Table, database_url: DatabaseUrl = None, verbose: Verbose = 0,
           quiet: Quiet = False) -> None:
    """Let a paused copy go on."""
    record = commands.set_paused(require_url(database_url), table, False)
    render.line(f"resumed the copy of {record.table_name}")
