"""The typer application. Commands live one per module; errors become one line, exit 2."""

from __future__ import annotations

import sqlite3
import sys

import psycopg
import typer

from bluegreen.cli import apply as apply_cmd
from bluegreen.cli import copy as copy_cmd
from bluegreen.cli import cutover as cutover_cmd
from bluegreen.cli import demo as demo_cmd
from bluegreen.cli import plan as plan_cmd
from bluegreen.cli import render
from bluegreen.cli import state as state_cmd
from bluegreen.errors import BluegreenError

app = typer.Typer(
    name="bluegreen",
    help="Zero-downtime schema changes for blue/green deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo_cmd.demo)
app.command("plan")(plan_cmd.plan)
app.command("apply")(apply_cmd.apply)
app.command("revert")(apply_cmd.revert)
app.command("init")(state_cmd.init)
app.command("copy")(copy_cmd.copy)
app.command("status")(state_cmd.status)
app.command("pause")(state_cmd.pause)
app.command("resume")(state_cmd.resume)
app.command("verify")(copy_cmd.verify)
app.command("abort")(copy_cmd.abort)
app.command("cutover")(cutover_cmd.cutover)
app.command("rollback")(cutover_cmd.rollback)
app.command("finish")(cutover_cmd.finish)


@app.callback()
def _root() -> None:
    """Zero-downtime schema changes for blue/green deployments."""


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="bluegreen", standalone_mode=True)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    except BluegreenError as error:
        render.error(error.message)
        return error.exit_code
    except (psycopg.OperationalError, sqlite3.OperationalError) as error:
        # The connection went away mid-command (a restart, a network cut): every command
        # leaves a state the next run resumes or undoes.
        detail = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        render.error(f"the database connection failed: {detail}; check the server, then run "
                     "the same command again to resume (or `bluegreen status` to see where "
                     "it stopped)")
        return 2
    except KeyboardInterrupt:
        render.error("interrupted; run the same command again to resume or undo")
        return 130
    return 0


def entrypoint() -> None:
    sys.exit(main())
