"""What bluegreen's state stores need from an engine's connection: a few calls over one
connection, the same on every engine, so each store is written once.

SQL given to ``Db`` uses ``?`` placeholders, ``{p}`` for the prefix of bluegreen's own tables
(``bluegreen.`` on PostgreSQL, ``bluegreen_`` on SQLite) and ``{now}`` for the current
time; the engine's adapter turns them into its own dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol


class UniqueConflict(Exception):
    """An insert or update broke a unique constraint (raised by adapters for their driver's
    integrity error, so stores need not know the driver)."""


class Db(Protocol):
    prefix: str  # bluegreen's tables: "bluegreen." or "bluegreen_"
    now: str  # an SQL expression for the current time

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query, as dicts."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the rows it touched. UniqueConflict on a unique violation."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One transaction (nested: a savepoint)."""
        ...

    def state_revision(self) -> str | None:
        """The revision of bluegreen's state tables (its Alembic version), or None."""
        ...


def record_dict(record: Any) -> dict[str, Any]:
    """A record dataclass as JSON-ready data: its fields, datetimes in ISO 8601."""
    return {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in record.__dict__.items()}


def sql_for(db: Db, sql: str) -> str:
    """``sql`` with the prefix and the time expression of ``db``'s engine."""
    return sql.replace("{p}", db.prefix).replace("{now}", db.now)
