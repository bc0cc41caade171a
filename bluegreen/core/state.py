"""Migration state: the states a table's migration moves through, the transitions between
them, and the store of migration records, written once for every engine.

Every transition is ``UPDATE ... WHERE id = :id AND state IN (:expected)`` and fails loudly
when it touched no row (the database, not the code, enforces the state rules); a partial
unique index allows one active migration per table.

    copying -> synced -> cut_over <-> rolled_back
                            `-> finished          (any active state) -> aborted
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from bluegreen.core.db import Db, UniqueConflict, record_dict, sql_for
from bluegreen.errors import BluegreenError, NoActiveMigration, StateNotInitialized, WrongState


class MigrationState(str, Enum):
    COPYING = "copying"
    SYNCED = "synced"
    CUT_OVER = "cut_over"
    ROLLED_BACK = "rolled_back"
    FINISHED = "finished"
    ABORTED = "aborted"

    def __str__(self) -> str:
        return self.value


S = MigrationState
# States in which a migration holds a table (one at a time per table).
ACTIVE_STATES: tuple[str, ...] = (S.COPYING.value, S.SYNCED.value, S.CUT_OVER.value,
                                  S.ROLLED_BACK.value)
# States a migration ends in: the table is free for a new one.
ENDED_STATES: tuple[str, ...] = (S.FINISHED.value, S.ABORTED.value)
# A copy can be resumed (or, after a rollback, go on following the live table) from these.
RESUMABLE: tuple[str, ...] = (S.COPYING.value, S.SYNCED.value, S.ROLLED_BACK.value)
# action -> (the states it may start from, the state it leaves the migration in)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "sync": ((S.COPYING.value,), S.SYNCED.value),
    "cut over": ((S.SYNCED.value, S.ROLLED_BACK.value), S.CUT_OVER.value),
    "roll back": ((S.CUT_OVER.value,), S.ROLLED_BACK.value),
    "finish": ((S.CUT_OVER.value,), S.FINISHED.value),
    "abort": (ACTIVE_STATES, S.ABORTED.value),
}

# The head revision of bluegreen's state tables (migrations/versions). A constant, so that
# every command's check needs no Alembic; tests/core/test_state.py keeps it equal to
# Alembic's head.
STATE_HEAD = "0003"

_DATE_FIELDS = ("created_at", "updated_at", "synced_at", "cut_over_at", "finished_at")
_BOOL_FIELDS = ("paused", "backfill_done", "indexes_built")


def allowed(action: str) -> tuple[str, ...]:
    """The states ``action`` may start from."""
    return TRANSITIONS[action][0]


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
    # SQLite and for migrations recorded before state revision 0003).
    live_oid: int | None = None
    shadow_oid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)


class MigrationStore:
    """Migration records and their transitions, through an engine's ``Db``."""

    def __init__(self, db: Db, head_revision: str | None = None) -> None:
        self.db = db
        self.head_revision = head_revision

    @classmethod
    def checked(cls, db: Db) -> MigrationStore:
        """The store on ``db``; refuses (run `bluegreen init`) when the state tables are
        missing or older than this bluegreen."""
        store = cls(db)
        store.check_initialized()
        return store

    # ---- plumbing ---------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.db.rows(sql_for(self.db, sql), params)

    def _record(self, row: dict[str, Any]) -> MigrationRecord:
        data = dict(row)
        if isinstance(data.get("detail"), str) or data.get("detail") is None:
            data["detail"] = json.loads(data.get("detail") or "{}")
        for key in _BOOL_FIELDS:
            data[key] = bool(data[key])
        for key in _DATE_FIELDS:
            if isinstance(data.get(key), str):
                data[key] = datetime.fromisoformat(data[key])
        known = MigrationRecord.__dataclass_fields__
        return MigrationRecord(**{k: v for k, v in data.items() if k in known})

    def _one(self, sql: str, params: Sequence[Any] = ()) -> MigrationRecord | None:
        rows = self._rows(sql, params)
        return self._record(rows[0]) if rows else None

    @staticmethod
    def _marks(values: Sequence[Any]) -> str:
        return ", ".join("?" for _ in values)

    def check_initialized(self) -> None:
        """Refuse, saying to run `bluegreen init`, when the state tables are missing or
        older than this bluegreen."""
        current = self.db.state_revision()
        head = self.head_revision or STATE_HEAD
        if current is None:
            raise StateNotInitialized("missing in this database")
        if current != head:
            raise StateNotInitialized(f"at revision {current}, older than this bluegreen "
                                      f"({head})")

    # ---- reading ------------------------------------------------------------------------------

    def active(self, table: str) -> MigrationRecord | None:
        return self._one(f"SELECT * FROM {{p}}migrations WHERE table_name = ? AND state IN "
                         f"({self._marks(ACTIVE_STATES)})", (table, *ACTIVE_STATES))

    def latest(self, table: str) -> MigrationRecord | None:
        return self._one("SELECT * FROM {p}migrations WHERE table_name = ? ORDER BY id DESC "
                         "LIMIT 1", (table,))

    def get(self, migration_id: int) -> MigrationRecord:
        record = self._one("SELECT * FROM {p}migrations WHERE id = ?", (migration_id,))
        assert record is not None
        return record

    def all_recent(self, limit: int = 50) -> list[MigrationRecord]:
        """The latest migrations, the active ones first."""
        rows = self._rows(f"SELECT * FROM {{p}}migrations ORDER BY CASE WHEN state IN "
                          f"({self._marks(ACTIVE_STATES)}) THEN 0 ELSE 1 END, id DESC LIMIT ?",
                          (*ACTIVE_STATES, limit))
        return [self._record(r) for r in rows]

    def is_paused(self, migration_id: int) -> bool:
        rows = self._rows("SELECT paused FROM {p}migrations WHERE id = ?", (migration_id,))
        return bool(rows and rows[0]["paused"])

    # ---- changing -----------------------------------------------------------------------------

    def create(self, table: str, alter_sql: str) -> MigrationRecord:
        """A new migration of ``table`` in state copying (its object names are set by the
        caller once its id is known). Refused while the table has an active one."""
        try:
            with self.db.transaction():
                self.db.run(sql_for(self.db, "INSERT INTO {p}migrations (table_name, alter_sql, "
                                             "shadow_table, old_table, queue_table, state) "
                                             "VALUES (?, ?, '', '', '', 'copying')"),
                            (table, alter_sql))
                rows = self._rows("SELECT max(id) AS id FROM {p}migrations WHERE table_name = ?",
                                  (table,))
        except UniqueConflict:
            raise BluegreenError(
                f"{table} already has an active bluegreen migration; see `bluegreen status "
                f"{table}`, or `bluegreen abort {table}` to drop it") from None
        return self.get(rows[0]["id"])

    def transition(self, record: MigrationRecord, expected: Sequence[str], new: str,
                   action: str, **fields: Any) -> MigrationRecord:
        """Move to ``new`` only from one of ``expected``; refuse otherwise (WrongState)."""
        sets = ", ".join(["state = ?", "updated_at = {now}"] + [f"{k} = ?" for k in fields])
        touched = self.db.run(sql_for(
            self.db, f"UPDATE {{p}}migrations SET {sets} WHERE id = ? AND state IN "
                     f"({self._marks(expected)})"),
            (str(new), *fields.values(), record.id, *map(str, expected)))
        if touched != 1:
            raise WrongState(record.table_name, self.get(record.id).state, tuple(expected),
                             action)
        return self.get(record.id)

    def move(self, record: MigrationRecord, action: str, **fields: Any) -> MigrationRecord:
        """The transition named ``action`` (see TRANSITIONS)."""
        expected, new = TRANSITIONS[action]
        return self.transition(record, expected, new, action, **fields)

    def update(self, record: MigrationRecord, **fields: Any) -> None:
        sets = ", ".join(["updated_at = {now}"] + [f"{k} = ?" for k in fields])
        self.db.run(sql_for(self.db, f"UPDATE {{p}}migrations SET {sets} WHERE id = ?"),
                    (*fields.values(), record.id))

    def set_paused(self, table: str, paused: bool) -> MigrationRecord:
        record = self.active(table)
        if record is None:
            raise NoActiveMigration(table, "start one with `bluegreen copy`")
        self.update(record, paused=paused)
        return self.get(record.id)

    def forget_chunks(self, record: MigrationRecord) -> None:
        """Drop a migration's chunk checkpoints (it is aborted or finished)."""
        self.db.run(sql_for(self.db, "DELETE FROM {p}chunks WHERE migration_id = ?"),
                    (record.id,))


def already_in(store: MigrationStore, keys: list[str], state: str
               ) -> list[MigrationRecord] | None:
    """The migration of each table when every one is already in ``state`` (a pipeline
    running the step again): the active migration for an active state (cut_over,
    rolled_back), else the latest one while none is active (finished, aborted). Else
    None."""
    records = []
    for key in keys:
        record = store.active(key)
        if record is None and state not in ACTIVE_STATES:
            record = store.latest(key)
        if record is None or record.state != state:
            return None
        records.append(record)
    return records or None


def require_active(store: MigrationStore, keys: list[str], states: Sequence[str], action: str,
                   hint: str = "start one with `bluegreen copy`") -> list[MigrationRecord]:
    """The active migration of each table, refusing a missing one, one in another state, or
    a table named twice."""
    records = []
    for key in keys:
        record = store.active(key)
        if record is None:
            raise NoActiveMigration(key, hint)
        if record.state not in states:
            raise WrongState(key, record.state, tuple(states), action)
        records.append(record)
    if len({r.table_name for r in records}) != len(records):
        raise BluegreenError("a table is named twice; name each table once")
    return records
