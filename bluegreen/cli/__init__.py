"""The typer application. Commands live one per module; errors become one line, exit 2.

Start-up is kept light: importing this package loads typer and bluegreen's own small
modules only. Each command imports the database libraries it needs when it runs, so
``--help``, ``--version`` and shell completion never load SQLAlchemy, Alembic, psycopg or
pglast (tests/cli/test_startup.py checks it).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from bluegreen import __version__
from bluegreen import config as config_mod
from bluegreen.cli import apply as apply_cmd
from bluegreen.cli import config as config_cmd
from bluegreen.cli import copy as copy_cmd
from bluegreen.cli import cutover as cutover_cmd
from bluegreen.cli import demo as demo_cmd
from bluegreen.cli import plan as plan_cmd
from bluegreen.cli import state as state_cmd
from bluegreen.cli.common import Output, Quiet, Verbose
from bluegreen.errors import BluegreenError


def _no_python_types(params: list[Any]) -> list[Any]:
    """Help shows no Python types: a flag takes no value (typer would print <bool>), and an
    argument's metavar (TABLE, PATH) already says what to give (not <str>, <list[Path]>)."""
    for param in params:
        if (getattr(param, "is_flag", False) or getattr(param, "count", False)) and \
                param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar:
            param.display_type_rich = lambda ctx: None
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _no_python_types(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _no_python_types(super().get_params(ctx))


app = typer.Typer(
    name="bluegreen",
    cls=_Group,
    help="Zero-downtime schema changes for blue/green deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _help(function: Callable[..., Any]) -> str:
    """The docstring with each paragraph on one line (help wraps to the terminal, not to
    where the source broke its lines) and brackets escaped from rich's markup."""
    paragraphs = inspect.cleandoc(function.__doc__ or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs).replace("[", "\\[")


def command(name: str, function: Callable[..., Any]) -> None:
    """Register a command under ``name``, its docstring as help; the lead paragraph is what
    `bluegreen --help` lists."""
    text = _help(function)
    app.command(name, cls=_Command, help=text, short_help=text.split("\n\n")[0])(function)


for _name, _function in (
    ("demo", demo_cmd.demo), ("plan", plan_cmd.plan), ("apply", apply_cmd.apply),
    ("revert", apply_cmd.revert), ("init", state_cmd.init),
    ("copy", copy_cmd.copy), ("status", state_cmd.status), ("pause", state_cmd.pause),
    ("resume", state_cmd.resume), ("verify", copy_cmd.verify), ("abort", copy_cmd.abort),
    ("cutover", cutover_cmd.cutover), ("rollback", cutover_cmd.rollback),
    ("finish", cutover_cmd.finish), ("config", config_cmd.show),
):
    command(_name, _function)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"bluegreen {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Show the version and exit.")] = False,
    config_file: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", show_default=False,
        help="Settings file (bluegreen.toml or pyproject.toml). Default: $BLUEGREEN_CONFIG, "
             "else the nearest bluegreen.toml or pyproject.toml with a tool.bluegreen table."
    )] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Zero-downtime schema changes for blue/green deployments."""
    settings = config_mod.load(path=config_file)
    Output.config = settings
    Output.announce()
    # click's default_map: a flag still beats these; the subcommand's context takes its own.
    defaults = settings.defaults_for()
    group: Any = ctx.command  # typer's (vendored) click Group
    ctx.default_map = {name: dict(defaults) for name in group.list_commands(ctx)}


def _error_format(args: list[str]) -> str:
    """The --format the command line asks for, so even a usage error can answer in it."""
    for i, arg in enumerate(args):
        if arg == "--format" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--format="):
            return arg.split("=", 1)[1]
    return "text"


def _usage_message(error: Exception) -> str | None:
    """One line for click's usage errors (bad option, missing argument, bad value)."""
    if not (hasattr(error, "format_message") and isinstance(getattr(error, "exit_code", None),
                                                             int)):
        return None
    # typer's value errors read "Value error, 'yaml' is not one of ..."; keep the reason.
    message = " ".join(str(error.format_message()).split()).replace("Value error, ", "")
    ctx = getattr(error, "ctx", None)
    if ctx is not None:
        message = f"{message.rstrip('.')}; see `{ctx.command_path} --help`"
    return message


def _connection_lost(error: Exception) -> bool:
    # Only what is already imported can have raised: looking up sys.modules keeps psycopg
    # out of commands that never loaded it.
    psycopg = sys.modules.get("psycopg")
    sqlite3 = sys.modules.get("sqlite3")
    return bool(psycopg and isinstance(error, psycopg.OperationalError)
                or sqlite3 and isinstance(error, sqlite3.OperationalError))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (the process's arguments by default); returns the exit code."""
    from bluegreen.cli import render

    args = list(sys.argv[1:] if argv is None else argv)
    Output.reset()
    fmt = _error_format(args)
    try:
        code = app(args=args, prog_name="bluegreen", standalone_mode=False)
    except SystemExit as exit_:  # shell completion ends with sys.exit
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except BluegreenError as error:
        render.error(error.message, fmt)
        return error.exit_code
    except typer.Abort:
        render.error("aborted", fmt)
        return 1
    except Exception as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(str(error.format_message()) + "\n")  # type: ignore[attr-defined]
            return 0
        usage = _usage_message(error)
        if usage is not None:
            render.error(usage, fmt)
            return int(error.exit_code)  # type: ignore[attr-defined]
        if _connection_lost(error):
            # The connection went away mid-command (a restart, a network cut): every
            # command leaves a state the next run resumes or undoes.
            detail = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            render.error(f"the database connection failed: {config_mod.redact(detail)}; "
                         "check the server, then run the same command again to resume (or "
                         "`bluegreen status` to see where it stopped)", fmt)
            return 2
        raise
    if code == 130:  # typer turns Ctrl-C into exit 130
        render.error("interrupted; run the same command again to resume or undo", fmt)
    return code if isinstance(code, int) else 0


def entrypoint() -> None:
    """The `bluegreen` console script."""
    sys.exit(main())
