"""Options shared by the commands, and the output settings every command honours.

Each option names its metavar (URL, MS, N...) so help never shows a Python type.
Defaults that a config file can change come from ``bluegreen.config`` through click's
``default_map``: a flag wins over the environment, the environment over the file.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from bluegreen import config
from bluegreen.errors import BadOption

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", metavar="URL",
    help="postgresql://user@host:port/db (libpq or SQLAlchemy form) or sqlite:///path.db. "
         f"Default: ${config.URL_ENV}, else $DATABASE_URL (see `bluegreen config`).",
    # Never shown: the default comes from the environment and may hold a password.
    show_default=False)]


class Format(str, Enum):
    text = "text"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", metavar="text|json",
                                              help="Output format.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (CI).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the SQL; run none.")]
LockTimeout = Annotated[int, typer.Option(
    "--lock-timeout", metavar="MS", min=1, help="Longest wait for the locks, in ms, per attempt.")]
Retries = Annotated[int, typer.Option("--retries", metavar="N", min=0,
                                      help="Attempts after a lock timeout.")]


class Output:
    """This run's settings: how much the commands say (-q hides progress and notes, -v adds
    the settings in force and every statement in full) and the config loaded for it."""

    verbosity = 0
    config: config.Config | None = None
    announced = False

    @classmethod
    def reset(cls) -> None:
        cls.verbosity = 0
        cls.config = None
        cls.announced = False

    @classmethod
    def announce(cls) -> None:
        """With -v: the settings in force and their sources, once, on stderr."""
        if cls.verbose() and cls.config is not None and not cls.announced:
            from bluegreen.cli import render

            cls.announced = True
            render.settings_lines(cls.config)

    @classmethod
    def quiet(cls) -> bool:
        return cls.verbosity < 0

    @classmethod
    def verbose(cls) -> bool:
        return cls.verbosity > 0


def _set_verbose(value: int) -> int:
    if value:
        Output.verbosity = max(Output.verbosity, 0) + value
        Output.announce()  # after a command's -v; `bluegreen -v CMD` announces once loaded
    return value


def _set_quiet(value: bool) -> bool:
    if value:
        Output.verbosity = -1
    return value


Verbose = Annotated[int, typer.Option(
    "--verbose", "-v", count=True, callback=_set_verbose, show_default=False,
    help="Say more: the settings in force and where each comes from; plan shows every "
         "statement in full.")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", callback=_set_quiet,
    help="Say less: no progress bars or notes; results and errors only.")]


def require_url(url: str | None) -> str:
    """The database URL, or a one-line refusal that says how to give one."""
    if not url:
        fallback = Output.config["database-url-env"] if Output.config else "DATABASE_URL"
        raise BadOption(f"no database given: pass --database-url or set {config.URL_ENV} "
                        f"(or {fallback})")
    return url
