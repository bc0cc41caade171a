"""Errors that reach the user as one line and exit code 2.

Every error says what is wrong and what to do about it; the CLI prints ``str(error)``
and never a traceback for these.
"""

from __future__ import annotations

from bluegreen.redact import redact


class BluegreenError(Exception):
    """Base class: a user-facing refusal. ``exit_code`` is what the CLI returns. The message
    is redacted here, so no password reaches the user through an error."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message


class InputNotFound(BluegreenError):
    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: no such file or directory; pass a .sql file, an Alembic "
                         "revision file or an Alembic versions directory")
        self.path = path


class SqlSyntaxError(BluegreenError):
    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: SQL does not parse: {detail}; fix the statement or mark "
                         "it for review")
        self.source = source
        self.detail = detail


class MigrationLoadError(BluegreenError):
    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: cannot load the Alembic revision: {detail}")
        self.source = source
        self.detail = detail


class TableNotFound(BluegreenError):
    def __init__(self, table: str, source: str, where: str) -> None:
        super().__init__(f"{source}: table {table!r} is not in {where}; check the table name "
                         "or pass the schema it runs on")
        self.table = table
        self.source = source


class DatabaseUnavailable(BluegreenError):
    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"cannot connect to {url}: {detail}; check --database-url "
                         "(postgresql://user@host:port/dbname)")
        self.url = url


class BadUrl(BluegreenError):
    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url!r} is not a database URL ({detail}); use "
                         "postgresql://user@host:port/dbname or sqlite:///path.db")
        self.url = redact(url)


class BadOption(BluegreenError):
    """A command-line value that cannot be used as given."""


class TableRefused(BluegreenError):
    """The table cannot be copied as it is; the message says why and what to do."""


class BadAlter(BluegreenError):
    """The --alter cannot be used as given."""


class CutoverRefused(BluegreenError):
    """Something cannot be moved safely; nothing was changed."""


class CopyCancelled(BluegreenError):
    def __init__(self, table: str) -> None:
        super().__init__(f"the copy of {table} was stopped; run the same command again to "
                         "resume it, or `bluegreen abort` to drop it")


class CopyAborted(BluegreenError):
    def __init__(self, table: str) -> None:
        super().__init__(f"the copy of {table} was aborted (`bluegreen abort`) while it ran, and "
                         "stopped; start a new one with `bluegreen copy "
                         f"{table} --alter ...`")
        self.table = table


class Interrupted(BluegreenError):
    """Ctrl-C: the message says what was interrupted and the command that resumes it."""

    exit_code = 130


class LockBusy(Exception):
    """A switch's locks were not granted in time: retry (never shown to the user)."""
