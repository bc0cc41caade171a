"""bluegreen demo: the whole job in under a minute, no server needed."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli import render
from bluegreen.cli.common import Format, FormatOption, Quiet, Verbose


def demo(
    # Named `url`, not `database_url`, on purpose: the config's database URL (from
    # BLUEGREEN_DATABASE_URL) is a default for parameters named database_url, and the demo
    # drops and creates a table, so it takes a database only from this flag.
    url: Annotated[str | None, typer.Option(
        "--database-url", metavar="URL", show_default=False,
        help="Run on this database instead of a new temporary SQLite file (creates and drops "
             "the table demo_orders). Never taken from the environment.")] = None,
    rows: Annotated[int, typer.Option("--rows", metavar="N", min=100,
                                      help="Rows in the sample table.")] = 20_000,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the temporary SQLite file and print where it is.")] = False,
    output: FormatOption = Format.text,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Create a sample app table, keep an app writing to it, plan a two-revision migration and
    run it as a deploy pipeline would: apply expand, revert, apply expand again, apply
    contract; then show that no write was lost."""
    from bluegreen import demo as demo_core

    as_json = output is Format.json
    with render.CopyDisplay(json_lines=as_json) as display:
        result = demo_core.run_demo(
            url, rows=rows, keep=keep,
            on_step=(lambda s: render.write_json_line({"event": "step", "step": s})) if as_json
            else render.event_line,
            on_progress=display.progress, on_event=display.event)
    render.demo_summary(result, as_json)
    raise typer.Exit(0 if result.ok else 1)
