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
    """Locks were not granted in time: retry (never shown to the user)."""


# ---- state -------------------------------------------------------------------------------------

class StateNotInitialized(BluegreenError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"bluegreen's state tables are {detail}; run `bluegreen init` first")


class NoActiveMigration(BluegreenError):
    def __init__(self, table: str, hint: str) -> None:
        super().__init__(f"no active bluegreen migration for {table}; {hint}")
        self.table = table


class WrongState(BluegreenError):
    def __init__(self, table: str, state: str, wanted: tuple[str, ...], action: str) -> None:
        super().__init__(
            f"cannot {action} {table}: its migration is {state}, and {action} needs "
            f"{' or '.join(wanted)}; run `bluegreen status {table}` to see where it is")
        self.table = table
        self.state = state


class TableReplaced(BluegreenError):
    """A migration's table is not the one it started with (dropped and re-created, or
    renamed, by someone else since)."""


class RowDoesNotFit(BluegreenError):
    """A live row that the new shape cannot hold; the copy stopped before losing it."""


class LockHeld(BluegreenError):
    """Another bluegreen process holds the lock of this work; ``holder`` says who."""

    def __init__(self, what: str, holder: str, hint: str) -> None:
        super().__init__(f"{what} is already running: {holder}; {hint}")
        self.holder = holder


# ---- apply and revert ------------------------------------------------------------------------

class StepFailed(BluegreenError):
    """A statement failed for a reason other than a lock wait: nothing of its transaction
    stayed."""


class ApplyBusy(BluegreenError):
    def __init__(self, holder: str) -> None:
        super().__init__(f"another bluegreen apply or revert is running on this database "
                         f"({holder}); wait for it to finish, or stop it, then run this again")


class UnsafeRefused(BluegreenError):
    """Exit 1: apply refused for safety before anything of the migration ran."""

    exit_code = 1

    def __init__(self, revision: str, refusals: list) -> None:
        more = f" (and {len(refusals) - 1} more; `bluegreen plan` lists them)" \
            if len(refusals) > 1 else ""
        super().__init__(f"revision {revision}: {refusals[0].line()}{more}; nothing was run: "
                         "change the migration, or pass --allow-unsafe to run it as written "
                         "under the lock timeout")
        self.refusals = refusals


class ExpandIncomplete(BluegreenError):
    def __init__(self, revision: str, state: str) -> None:
        super().__init__(f"revision {revision}: its expand phase is {state}, so its contract "
                         "phase cannot run; run `bluegreen apply --phase expand` first")


class ChangedRevision(BluegreenError):
    def __init__(self, source: str, done: int) -> None:
        super().__init__(
            f"{source} changed after bluegreen apply ran {done} of its steps; restore the "
            "file as it was, or `bluegreen revert` it first and apply again (a new change "
            "belongs in a new revision)")


class Declined(BluegreenError):
    """Exit 1: the user said no at the prompt; nothing was changed."""

    exit_code = 1

    def __init__(self, what: str = "revert") -> None:
        super().__init__(f"{what} declined; nothing was changed")


class ContractStarted(BluegreenError):
    def __init__(self, revision: str, done: list[str]) -> None:
        super().__init__(f"revision {revision}: its contract phase has started "
                         f"({'; '.join(done) or 'in progress'}), which cannot be undone; "
                         "revert only undoes an expand phase, so fix forward with a new "
                         "revision")
