"""Everything the CLI shows. The only module that imports rich.

In a terminal: tables with boxes and a live progress bar. Anywhere else (a pipe, a file, a
CI log): plain lines, one record per line, never wrapped or cut at a width, so SQL and
JSON can be copied and grepped whole.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bluegreen.cli.common import Output
from bluegreen.planner.model import Change, Phase, Plan, Severity

_PHASE_STYLE = {Phase.EXPAND: "green", Phase.CONTRACT: "yellow", Phase.BREAKING: "bold red"}
_SEVERITY_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.ERROR: "red"}


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def stdout() -> Console:
    # soft_wrap: lines are printed whole, never broken at the console width.
    return Console(highlight=False, soft_wrap=True)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str, fmt: str = "text") -> None:
    """One line on stderr: what is wrong and what to do. JSON with a JSON format, a workflow
    command with ``github``. Passwords in URLs are hidden whatever raised the error."""
    from bluegreen.config import redact

    # One line whatever the message holds (a driver's reason may carry newlines or indents).
    message = " ".join(redact(message).split())
    if fmt in ("json", "sarif", "gitlab"):
        sys.stderr.write(json.dumps({"error": {"message": message}}) + "\n")
    elif fmt == "github":
        escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        sys.stderr.write(f"::error title=bluegreen::{escaped}\n")
    else:
        _stderr().print(Text("error: ", style="bold red") + Text(message))


def warning(message: str) -> None:
    """A warning on stderr (kept with -q: it may change what the user does next)."""
    _message(Text(f"warning: {message}", style="yellow"), always=True)


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def write_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def write(text: str) -> None:
    """Text as it is, on stdout (machine formats)."""
    sys.stdout.write(text)


def line(message: str) -> None:
    stdout().print(Text(message))


def table(console: Console, title: Text | str, headers: Sequence[str],
          rows: Sequence[Sequence[Text | str]]) -> None:
    """A table with boxes in a terminal; elsewhere plain aligned lines, a row per line."""
    title = title if isinstance(title, Text) else Text(title, style="bold")
    if console.is_terminal:
        grid = Table(title=title, title_justify="left")
        for header in headers:
            grid.add_column(header, overflow="fold")
        for row in rows:
            grid.add_row(*row)
        console.print(grid, soft_wrap=False)
        return
    plain = [[(c.plain if isinstance(c, Text) else c).replace("\n", ", ") for c in row]
             for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in plain]) for i, h in enumerate(headers)]
    console.print(title)
    for cells in [list(headers), *plain]:
        console.print(Text("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)
                                            ).rstrip()))


# ---- plan ------------------------------------------------------------------------------------

def plan_json(plan: Plan) -> None:
    write_json(plan.to_dict())


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


def _summary_text(plan: Plan) -> Text:
    summary = plan.summary()
    style = "bold red" if summary["breaking"] or summary["blocking"] else "bold green"
    return Text(f"{plural(len(plan.changes), 'change')}: {summary['expand']} expand, "
                f"{summary['contract']} contract, {summary['breaking']} breaking, "
                f"{summary['blocking']} blocking", style=style)


def plan_text(plan: Plan) -> None:
    """Tables by phase, then each finding with its fix and steps. With -q: one line per
    finding and the summary. With -v: every statement in full, findings or not."""
    console = stdout()
    if Output.quiet():
        for change in plan.changes:
            for finding in change.findings:
                console.print(Text(f"{change.source}: {finding.severity.value}: "
                                   f"{finding.message} [{finding.rule}]"))
        console.print(_summary_text(plan))
        return
    target = plan.target
    name = target.label
    console.print(Text(f"bluegreen plan for {name}", style="bold"))
    for phase in Phase:
        changes = [c for c in plan.changes if c.phase is phase]
        if not changes:
            continue
        console.print()
        table(console, Text(f"{phase.value} ({len(changes)})", style=_PHASE_STYLE[phase]),
              ("where", "operation", "table", "blocks", "strategy", "findings"),
              [(f"{Path(c.file).name}:{c.line}", c.operation, c.table or "",
                Text("yes", style="bold red") if c.blocking else Text("no"),
                c.strategy.value, _findings_cell(c)) for c in changes])
    for change in plan.changes:
        if not change.findings and not Output.verbose():
            continue
        lock = f"  [{change.lock}]" if change.lock else ""
        console.print(Text(f"\n{change.source}{lock}", style="bold"))
        sql = change.sql if Output.verbose() else change.sql.split("\n")[0]
        for sql_line in sql.splitlines():
            console.print(Text("  " + sql_line, style="dim"))
        for finding in change.findings:
            console.print(Text(f"  {finding.severity.value}: ", style=_SEVERITY_STYLE[
                finding.severity]) + Text(f"{finding.message} [{finding.rule}]"))
            console.print(Text("    fix: ", style="bold") + Text(finding.fix))
        if change.steps:
            console.print(Text("    steps:", style="bold"))
            for number, step in enumerate(change.steps, 1):
                repeat = " (repeat until it changes no row)" if step.repeat else ""
                console.print(Text(f"    {number}. [{step.phase}] {step.description}{repeat}"))
                for body_line in (step.sql or step.command or "").splitlines():
                    console.print(Text(f"         {body_line}", style="cyan"))
    for assumption in plan.assumptions:
        console.print(Text(f"\nnote: {assumption}", style="dim"))
    console.print()
    console.print(_summary_text(plan))


# ---- config ----------------------------------------------------------------------------------

def settings_lines(settings) -> None:
    """The settings in force and where each comes from, on stderr (-v)."""
    from bluegreen.config import redact, shown

    lines = [f"config file: {settings.path or 'none found'}"]
    if settings.database_url:
        lines.append(f"database-url = {redact(settings.database_url)} "
                     f"({settings.database_url_source})")
    for value in settings.values.values():
        if value.source != "default":
            lines.append(f"{value.setting.key} = {shown(value.value)} ({value.source})")
    for text in lines:
        _stderr().print(Text(text, style="dim"))


def config_table(path: str | None, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        write_json({"file": path, "precedence": ["flag", "env", "file", "default"],
                    "settings": rows})
        return
    from bluegreen.config import shown

    console = stdout()
    console.print(Text(f"config file: {path or 'none found'}", style="bold"))
    console.print(Text("precedence: flag > environment > file > default", style="dim"))
    table(console, "settings", ("setting", "value", "from", "environment"),
          [(r["key"], shown(r["value"]), r["source"], r["env"]) for r in rows])


# ---- state and the copier -----------------------------------------------------------------

def _message(text: Text, always: bool = False) -> None:
    """A line for the user on stderr, through the live progress bar when one is showing
    (so the bar stays below and no stale copy of it is left in the scrollback)."""
    if Output.quiet() and not always:
        return
    display = CopyDisplay.active
    if display is not None and display.bar is not None:
        display.bar.console.print(text)
    else:
        _stderr().print(text)


def event_line(message: str) -> None:
    """A step as it happens (stderr); hidden by -q."""
    _message(Text(message, style="dim"))


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
    """How a copy shows its progress on stderr: a live bar in a terminal; elsewhere a plain
    line at most every ``interval`` seconds and at each phase change; nothing with -q; one
    JSON object per line on stdout with --format json."""

    active: CopyDisplay | None = None

    def __init__(self, json_lines: bool, console: Console | None = None,
                 interval: float = 5.0) -> None:
        self.json_lines = json_lines
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.interval = interval
        self.bar: Any = None
        self.task = None
        self._last_line = 0.0
        self._last_phase: str | None = None
        self._last_plain: str | None = None

    def __enter__(self) -> CopyDisplay:
        CopyDisplay.active = self
        return self

    def __exit__(self, *exc) -> None:
        CopyDisplay.active = None
        if self.bar is not None:
            self.bar.__exit__(*exc)
            self.bar = None

    def _start_bar(self) -> None:
        """The bar appears with the first report, not before pre-flight passes."""
        if self.bar is not None:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        def text(template: str) -> TextColumn:
            # One line per task whatever the width: a narrow terminal cuts the text with an
            # ellipsis instead of wrapping it, which would break the live redraw.
            return TextColumn(template, table_column=Column(no_wrap=True, overflow="ellipsis"))

        if self.console.width >= 100:
            columns = [text("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       text("{task.fields[rate]}"), TimeRemainingColumn(),
                       text("{task.fields[extra]}")]
        else:
            columns = [text("[bold]{task.description}"), BarColumn(bar_width=10),
                       TaskProgressColumn(), text("{task.fields[rate]}"),
                       text("{task.fields[extra]}")]
        self.bar = Progress(*columns, console=self.console, transient=False)
        self.bar.__enter__()
        self.task = self.bar.add_task("copy", total=None, rate="", extra="")

    def progress(self, p) -> None:
        if self.json_lines:
            write_json_line({"event": "progress", **p.to_dict()})
            return
        if Output.quiet():
            return
        if self.console.is_terminal:
            self._bar_progress(p)
        else:
            self._plain_progress(p)

    def _bar_progress(self, p) -> None:
        self._start_bar()
        extra = f"backlog {p.backlog:,}"
        if p.throttled:
            extra += f"  [yellow]throttled: {p.throttled}[/]"
        # The total is the row count estimated when the copy began: rows deleted since are
        # never copied (replay accounts for them), so a finished backfill shows as complete,
        # and the rows copied may pass the estimate, so it never shows past 100%.
        done = p.phase not in ("backfill", "indexes")
        total = p.rows_total if p.rows_total is None else max(p.rows_total, p.rows_copied)
        self.bar.update(self.task, description=f"{p.table} {p.phase}", completed=p.rows_copied,
                        total=p.rows_copied if done else total,
                        rate=f"{p.rows_per_second:,.0f} rows/s" if p.rows_per_second
                        else "", extra=extra)

    def _plain_progress(self, p) -> None:
        now = time.monotonic()
        if p.phase == self._last_phase and now - self._last_line < self.interval:
            return
        total = _of_total(p.rows_copied, p.rows_total)
        # No rate until there is one to give (before the first chunk, or a copy too short
        # to measure): "0 rows/s" would read as a stalled copy.
        rate = f"{p.rows_per_second:,.0f} rows/s, " if p.rows_per_second else ""
        text = (f"{p.table} {p.phase}: {p.rows_copied:,}{total} rows copied, "
                f"{rate}backlog {p.backlog:,}")
        if p.throttled:
            text += f", throttled: {p.throttled}"
        self._last_line, self._last_phase = now, p.phase
        if text != self._last_plain:  # a quiet --follow does not repeat itself
            self.console.print(Text(text))
            self._last_plain = text

    def event(self, message: str) -> None:
        if self.json_lines:
            write_json_line({"event": "message", "message": message})
        elif not Output.quiet():
            if self.console.is_terminal:
                self._start_bar()
                self.bar.console.print(Text(message, style="dim"))
            else:
                self.console.print(Text(message))


def _of_total(copied: int, total: int | None) -> str:
    """"/N" after the rows copied. The total is the planner's estimate when the copy began
    (reltuples), which the rows copied may pass: never show more copied than the total."""
    return "" if total is None else f"/{max(total, copied):,}"


def copy_done(result, as_json: bool, *, cutover_next: bool = False) -> None:
    """The copy's outcome; ``cutover_next``: the same command cuts over next (--cutover)."""
    record = result.record
    if as_json:
        write_json_line({"event": "done", "resumed": result.resumed, "seconds": result.seconds,
                         "backlog": result.backlog, "warnings": result.warnings,
                         "already": result.already, "migration": record.to_dict()})
        return
    for message in result.warnings:
        warning(message)
    name = record.table_name
    if result.already:
        line(f"{name}: already cut over to this change; nothing to copy. Next, once blue is "
             f"retired: bluegreen finish {name}")
        return
    next_step = "Cutting over now." if cutover_next else f"Next: bluegreen cutover {name}"
    line(f"{name}: {record.state}; {plural(record.rows_copied, 'row')} copied, "
         f"{plural(record.rows_replayed, 'captured change')} replayed, backlog "
         f"{result.backlog:,} ({result.seconds:.1f}s). {next_step}")


def status_table(rows, clear: bool = False) -> None:
    console = stdout()
    if clear and console.is_terminal:
        console.clear()
    cells = []
    for row in rows:
        r = row.record
        total = _of_total(r.rows_copied, r.rows_total)
        cells.append((str(r.id), r.table_name, r.state, f"{r.rows_copied:,}{total}",
                      f"{r.rows_replayed:,}", "" if row.backlog is None else f"{row.backlog:,}",
                      "yes" if r.paused else ""))
    if not cells:
        console.print(Text("no active bluegreen migrations (`bluegreen status --all` shows "
                           "finished and aborted ones)"))
        return
    table(console, "bluegreen migrations",
          ("id", "table", "state", "copied", "replayed", "backlog", "paused"), cells)
    for row in rows:
        console.print(Text(f"  {row.record.id}: {row.record.alter_sql or '(rebuild)'}",
                           style="dim"))


def verify_result(result, as_json: bool) -> None:
    if as_json:
        write_json(result.to_dict())
        return
    if result.equal:
        line(f"{result.table}: live and shadow are equal ({plural(result.ranges, 'range')}, "
             f"{plural(result.rows_live, 'row')})")
        return
    line(f"{result.table}: {len(result.differing)} of {plural(result.ranges, 'range')} differ "
         f"(live {plural(result.rows_live, 'row')}, shadow {plural(result.rows_shadow, 'row')})")
    def key(value) -> str:  # a key is a list of its columns' values
        parts = [str(v) for v in value]
        return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"

    for lo, hi in result.differing[:20]:
        start = "from the first key" if lo is None else f"after {key(lo)}"
        end = "the end" if hi is None else key(hi)
        line(f"  keys {start} up to {end}")
    if len(result.differing) > 20:
        line(f"  and {plural(len(result.differing) - 20, 'more range')}")
    if result.repaired_keys:
        line(f"re-synced {plural(result.repaired_keys, 'key')} from the live table")


def switch_result(result, as_json: bool, *, json_line: bool = False) -> None:
    """A cutover's or rollback's outcome; ``json_line``: one JSON line, after a copy's."""
    if as_json:
        if json_line:
            write_json_line({"event": result.action, **result.to_dict()})
        else:
            write_json(result.to_dict())
        return
    for message in result.warnings:
        warning(message)
    verb = {"cutover": "cut over", "rollback": "rolled back"}[result.action]
    if result.already:
        line(f"{', '.join(result.tables)}: already {verb}; nothing to do")
        return
    line(f"{', '.join(result.tables)}: {verb}; writes were blocked for "
         f"{result.lock_ms:.1f} ms ({plural(result.attempts, 'attempt')})")


def demo_summary(result, as_json: bool) -> None:
    from bluegreen.config import redact

    url = redact(result.database_url)
    if as_json:
        write_json_line({"event": "summary", "ok": result.ok, "database_url": url,
                         "kept": result.kept, "app_writes": result.app_writes,
                         "app_errors": result.app_errors,
                         "steps": [s.__dict__ for s in result.steps]})
        return
    console = stdout()
    table(console, "bluegreen demo: the live table against what the app committed",
          ("step", "took", "blocked", "rows", "app writes", "matches app"),
          [(step.step.replace(" (shadow in sync)", ""), f"{step.seconds:.1f}s",
            f"{step.lock_ms:.1f} ms" if step.lock_ms is not None else "",
            f"{step.rows:,}", f"{step.app_writes:,}",
            Text("yes", style="green") if step.matches else
            Text(f"NO: {step.detail}", style="bold red")) for step in result.steps])
    if result.app_errors:
        console.print(Text(f"the app saw {plural(len(result.app_errors), 'error')}, first: "
                           f"{result.app_errors[0]}", style="bold red"))
    verdict = ("no write was lost: after every step the table held exactly what the app "
               "committed" if result.ok else "the table did not match what the app committed")
    console.print(Text(verdict, style="bold green" if result.ok else "bold red"))
    if result.kept:
        console.print(Text(f"database: {url}", style="dim"))
    else:
        console.print(Text("database: a temporary SQLite file, removed (pass --keep to keep "
                           "it)", style="dim"))


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
        self.bar: Any = None
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
        if Output.quiet():
            return  # -q: the summary and errors only
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
    if Output.quiet():
        return
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
