"""Options shared by the commands that talk to a database."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from bluegreen.errors import BadOption

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar=["BLUEGREEN_DATABASE_URL", "DATABASE_URL"],
    help="postgresql://user@host:port/db (libpq or SQLAlchemy form) "
         "[env: BLUEGREEN_DATABASE_URL, DATABASE_URL]", show_envvar=False)]


class Format(str, Enum):
    text = "text"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]


def require_url(url: str | None) -> str:
    if not url:
        raise BadOption("no database given: pass --database-url or set BLUEGREEN_DATABASE_URL "
                        "(or DATABASE_URL)")
    return url
