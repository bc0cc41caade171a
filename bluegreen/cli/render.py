"""Everything the CLI shows. The only module that imports rich."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bluegreen.planner.model import Change, Phase, Plan, Severity

_PHASE_STYLE = {Phase.EXPAND: "green", Phase.CONTRACT: "yellow", Phase.BREAKING: "bold red"}
_SEVERITY_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.ERROR: "red"}


def stdout() -> Console:
    # soft_wrap: SQL is printed whole, never broken across lines, so it can be copied.
    return Console(highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """One line on stderr: what is wrong and what to do."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text("error: ", style="bold red") + Text(message))


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def plan_json(plan: Plan) -> None:
    write_json(plan.to_dict())


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def plan_github(plan: Plan) -> None:
    """One workflow-command annotation per finding, at its file and line."""
    levels = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    out = []
    for change in plan.changes:
        for finding in change.findings:
            level = levels[finding.severity]
            title = _escape_property(f"bluegreen {finding.rule} ({change.phase.value})")
            message = _escape_data(f"{finding.message}. Fix: {finding.fix}")
            out.append(f"::{level} file={_escape_property(change.file)},line={change.line},"
                       f"title={title}::{message}")
    summary = plan.summary()
    out.append(
        f"bluegreen plan: {summary['expand']} expand, {summary['contract']} contract, "
        f"{summary['breaking']} breaking, {summary['blocking']} blocking")
    sys.stdout.write("\n".join(out) + "\n")


def _findings_cell(change: Change) -> Text:
    text = Text()
    for i, finding in enumerate(change.findings):
        if i:
            text.append("\n")
        text.append(finding.rule, style=_SEVERITY_STYLE[finding.severity])
    if change.suppressed:
        text.append(("\n" if change.findings else "") + "ignored: " + ", ".join(change.suppressed),
                    style="dim")
    return text


def plan_text(plan: Plan, *, verbose_steps: bool = True) -> None:
    console = stdout()
    target = plan.target
    console.print(Text(f"bluegreen plan for PostgreSQL {target.version}", style="bold"))
    for phase in Phase:
        changes = [c for c in plan.changes if c.phase is phase]
        if not changes:
            continue
        table = Table(title=Text(f"{phase.value} ({len(changes)})", style=_PHASE_STYLE[phase]),
                      title_justify="left", show_lines=False, expand=False)
        table.add_column("where", overflow="fold")
        table.add_column("operation", overflow="fold")
        table.add_column("table", overflow="fold")
        table.add_column("blocks")
        table.add_column("strategy", overflow="fold")
        table.add_column("findings", overflow="fold")
        for change in changes:
            table.add_row(
                f"{Path(change.file).name}:{change.line}", change.operation, change.table or "",
                Text("yes", style="bold red") if change.blocking else Text("no"),
                change.strategy.value, _findings_cell(change))
        console.print(table, soft_wrap=False)
    for change in plan.changes:
        if not change.findings:
            continue
        lock = f"  [{change.lock}]" if change.lock else ""
        console.print(Text(f"\n{change.source}{lock}", style="bold"))
        console.print(Text("  " + change.sql.split("\n")[0][:160], style="dim"))
        for finding in change.findings:
            console.print(Text(f"  {finding.severity.value}: ", style=_SEVERITY_STYLE[
                finding.severity]) + Text(f"{finding.message} [{finding.rule}]"))
            console.print(Text("    fix: ", style="bold") + Text(finding.fix))
        if verbose_steps and change.steps:
            console.print(Text("    steps:", style="bold"))
            for number, step in enumerate(change.steps, 1):
                repeat = " (repeat until it changes no row)" if step.repeat else ""
                console.print(Text(f"    {number}. [{step.phase}] {step.description}{repeat}"))
                body = step.sql or step.command
                if body:
                    for line in body.splitlines():
                        console.print(Text(f"         {line}", style="cyan"))
    for assumption in plan.assumptions:
        console.print(Text(f"\nnote: {assumption}", style="dim"))
    summary = plan.summary()
    style = "bold red" if summary["breaking"] or summary["blocking"] else "bold green"
    console.print(Text(
        f"\n{len(plan.changes)} changes: {summary['expand']} expand, {summary['contract']} "
        f"contract, {summary['breaking']} breaking, {summary['blocking']} blocking", style=style))
