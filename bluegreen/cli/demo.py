"""bluegreen demo: the whole job in under a minute, no server needed."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen import demo as demo_core
from bluegreen.cli import render
from bluegreen.cli.common import Format, FormatOption


def demo(
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Run on this database instead of a new local SQLite file "
                               "(creates and drops the table demo_orders).")] = None,
    rows: Annotated[int, typer.Option("--rows", help="Rows in the sample table.")] = 20_000,
    output: FormatOption = Format.text,
) -> None:
    """Create a sample app table, keep an app writing to it, plan, copy, cut over, roll back,
    cut over again and finish; then show that no write was lost."""
    as_json = output is Format.json
    with render.CopyDisplay(json_lines=as_json) as display:
        result = demo_core.run_demo(
            database_url, rows=rows,
            on_step=(lambda s: render.write_json_line({"event": "step", "step": s})) if as_json
            else render.event_line,
            on_progress=display.progress, on_event=display.event)
    render.demo_summary(result, as_json)
    raise typer.Exit(0 if result.ok else 1)
