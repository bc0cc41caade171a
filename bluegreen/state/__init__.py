"""bluegreen's state store: migration records in the database, conditional transitions.

Every transition is ``UPDATE ... WHERE id = :id AND state = :expected`` and fails loudly when
it touched no row; a partial unique index allows one active migration per table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bluegreen.errors import BluegreenError

STATE_SCHEMA = "bluegreen"
ACTIVE_STATES = ("copying", "synced", "cut_over", "rolled_back")


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


@dataclass
class MigrationRecord:
    id: int
    table_name: str
    alter_sql: str
    shadow_table: str
    old_table: str
    queue_table: str
    state: str
    paused: bool
    backfill_done: bool
    indexes_built: bool
    rows_total: int | None
    rows_copied: int
    rows_replayed: int
    chunk_size: int | None
    lock_ms: float | None
    detail: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    synced_at: datetime | None
    cut_over_at: datetime | None
    finished_at: datetime | None
    # The OIDs of the live table and the shadow when the copy started (PostgreSQL; None on
    # SQLite and for migrations recorded before revision 0003).
    live_oid: int | None = None
    shadow_oid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


class StateStore:
    """Reads and changes migration records through one autocommit connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def check_initialized(self) -> None:
        from bluegreen.state.init import current_revision, head_revision

        current = current_revision(self.conn)
        if current is None:
            raise StateNotInitialized("missing in this database")
        if current != head_revision():
            raise StateNotInitialized(f"at revision {current}, older than this bluegreen "
                                      f"({head_revision()})")

    def _one(self, sql: str, params: tuple) -> MigrationRecord | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(sql, params).fetchone()
        return MigrationRecord(**row) if row else None

    def active(self, table: str) -> MigrationRecord | None:
        return self._one(
            "SELECT * FROM bluegreen.migrations WHERE table_name = %s AND state = ANY(%s)",
            (table, list(ACTIVE_STATES)))

    def latest(self, table: str) -> MigrationRecord | None:
        return self._one("SELECT * FROM bluegreen.migrations WHERE table_name = %s "
                         "ORDER BY id DESC LIMIT 1", (table,))

    def get(self, migration_id: int) -> MigrationRecord:
        record = self._one("SELECT * FROM bluegreen.migrations WHERE id = %s", (migration_id,))
        assert record is not None
        return record

    def all_recent(self, limit: int = 50) -> list[MigrationRecord]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT * FROM bluegreen.migrations ORDER BY "
                               "(state = ANY(%s)) DESC, id DESC LIMIT %s",
                               (list(ACTIVE_STATES), limit)).fetchall()
        return [MigrationRecord(**r) for r in rows]

    def create(self, table: str, alter_sql: str, shadow: str, old: str, queue: str
               ) -> MigrationRecord:
        try:
            record = self._one(
                "INSERT INTO bluegreen.migrations (table_name, alter_sql, shadow_table, "
                "old_table, queue_table, state) VALUES (%s, %s, %s, %s, %s, 'copying') "
                "RETURNING *", (table, alter_sql, shadow, old, queue))
        except psycopg.errors.UniqueViolation:
            raise BluegreenError(
                f"{table} already has an active bluegreen migration; see `bluegreen status "
                f"{table}`, or `bluegreen abort {table}` to drop it") from None
        assert record is not None
        return record

    def transition(self, record: MigrationRecord, expected: tuple[str, ...], new: str,
                   action: str, **fields: Any) -> MigrationRecord:
        """Move to ``new`` only from one of ``expected``; refuse otherwise."""
        sets = ", ".join(["state = %s", "updated_at = now()"]
                         + [f"{k} = %s" for k in fields])
        updated = self._one(
            f"UPDATE bluegreen.migrations SET {sets} WHERE id = %s AND state = ANY(%s) "
            "RETURNING *", (new, *fields.values(), record.id, list(expected)))
        if updated is None:
            current = self.get(record.id)
            raise WrongState(record.table_name, current.state, expected, action)
        return updated

    def update(self, record: MigrationRecord, **fields: Any) -> None:
        sets = ", ".join(["updated_at = now()"] + [f"{k} = %s" for k in fields])
        self.conn.execute(f"UPDATE bluegreen.migrations SET {sets} WHERE id = %s",
                          (*fields.values(), record.id))

    def set_paused(self, table: str, paused: bool) -> MigrationRecord:
        record = self.active(table)
        if record is None:
            raise NoActiveMigration(table, "start one with `bluegreen copy`")
        self.update(record, paused=paused)
        return self.get(record.id)

    def is_paused(self, migration_id: int) -> bool:
        row = self.conn.execute("SELECT paused FROM bluegreen.migrations WHERE id = %s",
                                (migration_id,)).fetchone()
        return bool(row and row[0])


def require_active(store, keys: list[str], states: tuple[str, ...], action: str,
                   hint: str = "start one with `bluegreen copy`") -> list[MigrationRecord]:
    """The active migration of each table, refusing a missing one, one in another state, or
    a table named twice. Works on any store with ``active(key)``."""
    records = []
    for key in keys:
        record = store.active(key)
        if record is None:
            raise NoActiveMigration(key, hint)
        if record.state not in states:
            raise WrongState(key, record.state, states, action)
        records.append(record)
    if len({r.table_name for r in records}) != len(records):
        raise BluegreenError("a table is named twice; name each table once")
    return records
