"""The switch on SQLite (its steps are bluegreen.core.switch): the lock is BEGIN
IMMEDIATE, renames run with legacy_alter_table (so views, triggers and other tables' foreign
keys keep naming the live table, and point at the new one after cutover), reverse sync and
capture are SQLite triggers."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from types import SimpleNamespace

from bluegreen.core import naming
from bluegreen.core.state import MigrationRecord, MigrationStore
from bluegreen.engines.sqlite import state as sqlite_state
from bluegreen.engines.sqlite.capture import capture_triggers, drop_triggers
from bluegreen.engines.sqlite.catalog import columns, now, primary_key, q, user_objects
from bluegreen.engines.sqlite.copy import backlog, column_mapping, column_renames, replay
from bluegreen.errors import CutoverRefused


def _reverse_triggers(conn, record: MigrationRecord, pk: list[str], old_table: str,
                      new_table: str) -> tuple[list[str], list[str]]:
    """Triggers on the new live table writing each change to the old table; and the old
    NOT NULL columns without a default that no new column feeds."""
    renames = column_renames(record.alter_sql)
    new_cols = {c[0] for c in columns(conn, new_table)}
    info = {r[1]: r for r in conn.execute(f"PRAGMA table_info({q(old_table)})")}
    targets, values, missing = [], [], []
    for name, _, not_null, generated in columns(conn, old_table):
        if generated:
            continue
        source = renames.get(name, name)
        if source in new_cols:
            targets.append(q(name))
            values.append(f"NEW.{q(source)}")
        elif not_null and info[name][4] is None:
            missing.append(name)
    new_pk = [renames.get(k, k) for k in pk]
    match = " AND ".join(f"{q(o)} = OLD.{q(n)}" for o, n in zip(pk, new_pk, strict=True))
    insert = f"INSERT INTO {q(old_table)} ({', '.join(targets)}) VALUES ({', '.join(values)});"
    delete = f"DELETE FROM {q(old_table)} WHERE {match};"
    out = []
    for event, body in (("INSERT", insert), ("UPDATE", delete + " " + insert),
                        ("DELETE", delete)):
        out.append(f"CREATE TRIGGER {q(f'bluegreen_reverse_{record.id}_{event}')} AFTER {event} "
                   f"ON {q(new_table)} BEGIN {body} END")
    return out, missing


def _switch_statements(conn, record: MigrationRecord, action: str, reverse_sync: bool
                       ) -> list[str]:
    table, shadow, old = record.table_name, record.shadow_table, record.old_table
    # The capture triggers of a rollback go on the old table, keyed by its own columns.
    pk = primary_key(conn, table if action == "cutover" else old)
    user_triggers = user_objects(conn, table, "trigger")
    out = []
    if action == "cutover":
        out += drop_triggers(naming.CAPTURE, record)
    else:
        out += drop_triggers("bluegreen_reverse", record)
    out += [f"DROP TRIGGER {q(name)}" for name, _ in user_triggers]
    outgoing, incoming = (old, shadow) if action == "cutover" else (shadow, old)
    out.append(f"ALTER TABLE {q(table)} RENAME TO {q(outgoing)}")
    out.append(f"ALTER TABLE {q(incoming)} RENAME TO {q(table)}")
    out += [sql for _, sql in user_triggers]  # "ON <table>" now names the incoming table
    if action == "cutover":
        if reverse_sync:
            # Built against the tables' current names, then pointed at the post-rename ones.
            triggers, _ = _reverse_triggers(conn, record, pk, table, shadow)
            out += [t.replace(f"INTO {q(table)}", f"INTO {q(old)}")
                    .replace(f"FROM {q(table)}", f"FROM {q(old)}")
                    .replace(f"ON {q(shadow)}", f"ON {q(table)}") for t in triggers]
    else:
        out += capture_triggers(record, pk)
    return out


class SqliteSwitch:
    """SQLite's side of a switch (see bluegreen.engines.postgresql.switch.run_switch): the lock is
    BEGIN IMMEDIATE, renames run with legacy_alter_table, triggers are SQLite's."""

    def __init__(self, conn: sqlite3.Connection, state: MigrationStore) -> None:
        self.conn = conn
        self.store = state

    def table_key(self, table: str) -> str:
        return table

    def now(self) -> str:
        return now()

    def load(self, records: list[MigrationRecord], action: str) -> list:

        parts = []
        for record in records:
            mapping = (column_mapping(self.conn, record.table_name, record)
                       if action == "cutover" else None)
            parts.append(SimpleNamespace(record=record, mapping=mapping,
                                         pk=primary_key(self.conn, record.table_name)))
        return parts

    def preflight(self, parts, action: str, reverse_sync: bool, warnings: list[str]) -> None:
        for part in parts:
            record = part.record
            if action == "cutover" and reverse_sync:
                _, missing = _reverse_triggers(self.conn, record, part.pk, record.table_name,
                                               record.shadow_table)
                if missing:
                    raise CutoverRefused(
                        f"{record.table_name}: the alter drops NOT NULL column(s) "
                        f"{', '.join(missing)} with no default, so writes after cutover cannot "
                        "be synced back; pass --no-reverse-sync to accept that a rollback then "
                        "loses them")
            if action == "rollback" and not record.detail.get("reverse_sync", True):
                warnings.append(f"{record.table_name} was cut over with --no-reverse-sync: "
                                "writes made since cutover are lost")

    def dry_run(self, parts, action, reverse_sync, warnings, lock_timeout_ms) -> list[str]:
        statements = [s for part in parts
                      for s in _switch_statements(self.conn, part.record, action, reverse_sync)]
        return ["PRAGMA legacy_alter_table = ON", "BEGIN IMMEDIATE", *statements, "COMMIT"]

    def catch_up(self, parts) -> None:
        for part in parts:
            while backlog(self.conn, part.record) > 100:
                replay(self.conn, part.record, part.pk, part.mapping)

    @contextmanager
    def locked(self, parts, lock_timeout_ms: int):
        self.conn.execute("PRAGMA legacy_alter_table = ON")
        try:
            with sqlite_state.write_transaction(self.conn, lock_timeout_ms):
                yield "BEGIN IMMEDIATE"
        finally:
            self.conn.execute("PRAGMA legacy_alter_table = OFF")

    def drain_locked(self, parts) -> None:
        for part in parts:
            while replay(self.conn, part.record, part.pk, part.mapping, in_transaction=True):
                pass

    def switch_statements(self, part, action: str, reverse_sync: bool,
                          warnings: list[str]) -> tuple[list[str], list[str]]:
        return _switch_statements(self.conn, part.record, action, reverse_sync), []

    def execute(self, statement: str, action: str, part) -> None:
        try:
            self.conn.execute(statement)
        except sqlite3.Error as error:
            raise CutoverRefused(f"{action} failed and changed nothing: {error} (in: "
                                 f"{statement[:120]})") from None

    def execute_after_commit(self, statement: str) -> None:
        self.conn.execute(statement)

    def pending_after(self, parts, after: list) -> list:
        return after  # nothing is left for after the commit on SQLite

    def detail_updates(self, part) -> dict:
        return {}

    def committed(self) -> None:
        pass

    def after_rollback(self, part) -> None:
        record = part.record
        if not record.detail.get("reverse_sync", True):
            # The new table has rows the old one lacks: re-sync them by replay.
            keys = ", ".join(q(k) for k in primary_key(self.conn, record.table_name))
            self.conn.execute(f"INSERT INTO {q(record.queue_table)} ({keys}) SELECT {keys} "
                              f"FROM {q(record.shadow_table)}")


def finish_statements(records: list[MigrationRecord]) -> list[str]:
    """What finish drops: the reverse-sync triggers, the old tables, the queues."""
    return [s for r in records for s in (
        drop_triggers("bluegreen_reverse", r)
        + [f"DROP TABLE IF EXISTS {q(r.old_table)}", f"DROP TABLE IF EXISTS {q(r.queue_table)}"])]


def abort_statements(record: MigrationRecord) -> list[str]:
    """What abort drops: the capture triggers, the shadow, the queue."""
    return drop_triggers(naming.CAPTURE, record) + [
        f"DROP TABLE IF EXISTS {q(record.shadow_table)}",
        f"DROP TABLE IF EXISTS {q(record.queue_table)}"]
