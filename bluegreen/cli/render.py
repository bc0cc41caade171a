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
    name = "SQLite" if target.dialect == "sqlite" else f"PostgreSQL {target.version}"
    console.print(Text(f"bluegreen plan for {name}", style="bold"))
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


# ---- state and the copier -----------------------------------------------------------------

def line(message: str) -> None:
    stdout().print(message)


def write_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def init_done(before: str | None, after: str) -> None:
    if before == after:
        line(f"bluegreen state is up to date (revision {after})")
    else:
        line(f"bluegreen state {'created' if before is None else 'upgraded from ' + before} "
             f"at revision {after}")


def sql_list(statements: list[str], as_json: bool) -> None:
    if as_json:
        write_json({"sql": statements})
        return
    for statement in statements:
        sys.stdout.write(statement.rstrip().rstrip(";") + (";\n" if not statement.startswith(
            "--") else "\n"))


def confirm(question: str) -> None:
    """Ask in a terminal; refuse (exit 2) where nobody can answer."""
    import typer

    from bluegreen.errors import BadOption

    if not sys.stdin.isatty():
        raise BadOption("this needs confirmation and no terminal can give it: pass --yes")
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


class CopyDisplay:
    """A rich progress bar in a terminal; one JSON object per line with --format json."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.bar = None
        self.task = None

    def __enter__(self) -> CopyDisplay:
        return self

    def _start(self) -> None:
        """The bar appears with the first report, not before pre-flight passes."""
        if self.bar is None and not self.json_lines:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                TextColumn("{task.fields[extra]}"),
                console=Console(stderr=True), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("copy", total=None, rate="", extra="")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def progress(self, p) -> None:
        if self.json_lines:
            write_json_line({"event": "progress", **p.to_dict()})
            return
        self._start()
        extra = f"backlog {p.backlog}"
        if p.throttled:
            extra += f"  [yellow]throttled: {p.throttled}[/]"
        # The total is the row count when the copy began; rows deleted since are never
        # copied (replay accounts for them), so a finished backfill shows as complete.
        done = p.phase not in ("backfill", "indexes")
        self.bar.update(self.task, description=f"{p.table} {p.phase}", completed=p.rows_copied,
                        total=p.rows_copied if done else p.rows_total,
                        rate=f"{p.rows_per_second:,.0f} rows/s",
                        extra=extra)

    def event(self, message: str) -> None:
        if self.json_lines:
            write_json_line({"event": "message", "message": message})
        else:
            self._start()
            self.bar.console.print(Text(message, style="dim"))


def copy_done(result, as_json: bool) -> None:
    record = result.record
    if as_json:
        write_json_line({"event": "done", "resumed": result.resumed, "seconds": result.seconds,
                         "backlog": result.backlog, "warnings": result.warnings,
                         "migration": record.to_dict()})
        return
    for warning in result.warnings:
        Console(stderr=True).print(Text(f"warning: {warning}", style="yellow"))
    line(f"{record.table_name}: {record.state}; {record.rows_copied:,} rows copied, "
         f"{record.rows_replayed:,} captured changes replayed, backlog {result.backlog} "
         f"({result.seconds:.1f}s). Next: bluegreen cutover {record.table_name}")


def status_table(rows, clear: bool = False) -> None:
    console = stdout()
    if clear:
        console.clear()
    headers = ("id", "table", "state", "copied", "replayed", "backlog", "paused")
    cells = []
    for row in rows:
        r = row.record
        total = f"/{r.rows_total:,}" if r.rows_total is not None else ""
        cells.append((str(r.id), r.table_name, r.state, f"{r.rows_copied:,}{total}",
                      f"{r.rows_replayed:,}", "" if row.backlog is None else str(row.backlog),
                      "yes" if r.paused else ""))
    table = Table(title="bluegreen migrations", title_justify="left")
    for i, header in enumerate(headers):
        width = max([len(header)] + [len(c[i]) for c in cells])
        table.add_column(header, no_wrap=True, min_width=min(width, 24))
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)
    for row in rows:
        console.print(Text(f"  {row.record.id}: {row.record.alter_sql or '(rebuild)'}",
                           style="dim"))


def verify_result(result, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
        return
    if result.equal:
        line(f"{result.table}: live and shadow are equal ({result.ranges} ranges, "
             f"{result.rows_live:,} rows)")
        return
    line(f"{result.table}: {len(result.differing)} of {result.ranges} ranges differ "
         f"(live {result.rows_live:,} rows, shadow {result.rows_shadow:,})")
    for lo, hi in result.differing[:20]:
        line(f"  keys after {lo} up to {hi if hi is not None else 'the end'}")
    if result.repaired_keys:
        line(f"re-synced {result.repaired_keys} keys from the live table")


def event_line(message: str) -> None:
    Console(stderr=True, highlight=False).print(Text(message, style="dim"))


def switch_result(result, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
        return
    for warning in result.warnings:
        Console(stderr=True).print(Text(f"warning: {warning}", style="yellow"))
    verb = {"cutover": "cut over", "rollback": "rolled back"}[result.action]
    line(f"{', '.join(result.tables)}: {verb}; writes were blocked for "
         f"{result.lock_ms:.1f} ms ({result.attempts} attempt"
         f"{'s' if result.attempts != 1 else ''})")


def demo_summary(result, as_json: bool) -> None:
    if as_json:
        write_json_line({"event": "summary", "ok": result.ok, "database_url":
                         result.database_url, "app_writes": result.app_writes,
                         "app_errors": result.app_errors,
                         "steps": [s.__dict__ for s in result.steps]})
        return
    console = stdout()
    table = Table(title="bluegreen demo: the live table against what the app committed",
                  title_justify="left")
    for column in ("step", "took", "blocked", "rows", "app writes", "matches app"):
        table.add_column(column, no_wrap=True, min_width=len(column))
    for step in result.steps:
        table.add_row(step.step.replace(" (shadow in sync)", ""), f"{step.seconds:.1f}s",
                      f"{step.lock_ms:.1f} ms" if step.lock_ms is not None else "",
                      f"{step.rows:,}", f"{step.app_writes:,}",
                      Text("yes", style="green") if step.matches else
                      Text(f"NO: {step.detail}", style="bold red"))
    console.print(table)
    if result.app_errors:
        console.print(Text(f"the app saw {len(result.app_errors)} errors, first: "
                           f"{result.app_errors[0]}", style="bold red"))
    verdict = ("no write was lost: after every step the table held exactly what the app "
               "committed" if result.ok else "the table did not match what the app committed")
    console.print(Text(verdict, style="bold green" if result.ok else "bold red"))
    console.print(Text(f"database: {result.database_url}", style="dim"))


# ---- apply and revert ------------------------------------------------------------------------

def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class ApplyDisplay:
    """One line per step (a progress bar for long steps in a terminal); with --format json,
    one JSON object per event."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = stdout()
        self.bar = None
        self.task = None

    def __enter__(self) -> ApplyDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self._end_bar()

    def _end_bar(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def event(self, event) -> None:
        if self.json_lines:
            if event.event != "progress":
                write_json_line(event.to_dict())
            return
        if event.event == "progress":
            self._progress(event)
            return
        self._end_bar()
        if event.event == "message":
            self.err.print(Text(event.message or "", style="dim"))
        elif event.event == "revision":
            if event.status == "running":
                self.out.print(Text(f"revision {event.revision} ({event.phase}): "
                                    f"{_plural(event.total or 0, 'step')}", style="bold"))
            elif event.status == "already done":
                self.out.print(Text(f"revision {event.revision} ({event.phase}): already done",
                                    style="dim"))
        elif event.event == "step" and event.status in ("done", "skipped"):
            where = f"{event.seq}/{event.total}" if event.total else str(event.seq)
            if event.status == "skipped":
                self.out.print(Text(f"  - {where} {event.description} (already done)",
                                    style="dim"))
                return
            facts = [f"{(event.seconds or 0) * 1000:,.0f} ms"]
            if event.rows:
                facts.append(_plural(event.rows, "row"))
            if event.lock_wait_ms:
                facts.append(f"waited {event.lock_wait_ms:,.0f} ms for locks")
            if event.attempts and event.attempts > 1:
                facts.append(f"{event.attempts} attempts")
            self.out.print(Text("  ok ", style="green") + Text(
                f"{where} {event.description}") + Text(f"  ({', '.join(facts)})", style="dim"))

    def _progress(self, event) -> None:
        if not self.err.is_terminal:
            return
        progress = event.progress or {}
        done = progress.get("rows", progress.get("rows_copied", 0)) or 0
        total = progress.get("rows_total")
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("  {task.description}"), BarColumn(),
                                MofNCompleteColumn(), console=self.err, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(event.description or "", total=total)
        self.bar.update(self.task, completed=done, total=max(total or 0, done) or None)


def apply_dry_run(result, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
        return
    if not result.scripts:
        sys.stdout.write(f"-- nothing to run: the {result.phase} phase is done for every "
                         "revision\n")
        return
    for step in result.scripts:
        sys.stdout.write(f"-- revision {step.revision}, {step.phase} step {step.seq}: "
                         f"{step.description}\n{step.script}\n\n")


def apply_done(result, as_json: bool) -> None:
    if as_json:
        write_json_line(result.to_dict())
        return
    console = stdout()
    if result.already_applied:
        console.print(Text(f"skipped (already in the app's alembic_version): "
                           f"{', '.join(result.already_applied)}", style="dim"))
    if result.nothing_to_do:
        console.print(Text(f"{result.phase}: already done for every revision; nothing "
                           "changed", style="bold green"))
        return
    lock = f", {result.lock_wait_ms:,.0f} ms waiting for locks" if result.lock_wait_ms else ""
    console.print(Text(f"{result.phase}: {_plural(result.steps_run, 'step')} run, "
                       f"{result.steps_skipped} already done, in {result.seconds:.1f}s{lock}",
                       style="bold green"))
    if result.phase == "expand":
        console.print("Next: deploy the new app; once the old one is retired, run "
                      "`bluegreen apply --phase contract` with the same migration "
                      "(or `bluegreen revert` to undo this phase).")
    elif result.stamped:
        console.print(f"The app's alembic_version is now {result.stamped}: `alembic upgrade "
                      "head` has nothing left to run.")


def revert_losses(plan) -> None:
    console = stdout()
    console.print(Text("Reverting drops values the new app wrote:", style="bold yellow"))
    for what, count in plan.losses:
        console.print(f"  {what}: {_plural(count, 'value')}")


def _revert_text(plan) -> None:
    console = stdout()
    for note in plan.kept:
        console.print(Text(f"kept: {note}", style="yellow"))


def revert_dry_run(result, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
        return
    plan = result.plan
    if not plan.actions:
        sys.stdout.write("-- nothing to revert\n")
        return
    for action in plan.actions:
        sys.stdout.write(f"-- revision {action.revision}, undo expand step {action.step.seq}: "
                         f"{action.step.description}\n{action.script}\n\n")
    for what, count in plan.losses:
        sys.stdout.write(f"-- drops {what}: {_plural(count, 'value')} the new app wrote\n")


def revert_done(result, as_json: bool) -> None:
    if as_json:
        write_json_line(result.to_dict())
        return
    _revert_text(result.plan)
    if not result.steps_undone and not result.plan.actions:
        stdout().print(Text("nothing to revert: no expand step of these revisions ran",
                            style="bold green"))
        return
    stdout().print(Text(f"reverted {', '.join(result.plan.revisions)}: "
                        f"{_plural(result.steps_undone, 'step')} undone in "
                        f"{result.seconds:.1f}s", style="bold green"))


def apply_status_table(rows: list[dict]) -> None:
    if not rows:
        return
    table = Table(title="bluegreen apply: revisions", title_justify="left")
    table.add_column("revision", overflow="fold")
    table.add_column("expand", no_wrap=True)
    table.add_column("contract", no_wrap=True)
    table.add_column("step", overflow="fold")
    for row in rows:
        step = row.get("step")
        detail = ""
        if step:
            detail = f"{step['phase']} {step['seq']}: {step['description']} ({step['status']})"
        table.add_row(Path(row["revision"]).name if row["revision"].endswith(".sql")
                      else row["revision"],
                      f"{row['expand']} {row['expand_steps'][0]}/{row['expand_steps'][1]}",
                      f"{row['contract']} {row['contract_steps'][0]}/"
                      f"{row['contract_steps'][1]}", detail)
    stdout().print(table)
