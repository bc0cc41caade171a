"""Change capture on SQLite: triggers on the live table append changed primary keys to a
queue table (keys only: replay re-reads the row)."""

from __future__ import annotations

from bluegreen.core import naming
from bluegreen.core.state import MigrationRecord
from bluegreen.engines.sqlite.catalog import q


def capture_triggers(record: MigrationRecord, pk: list[str]) -> list[str]:
    keys = ", ".join(q(k) for k in pk)
    new_keys = ", ".join(f"NEW.{q(k)}" for k in pk)
    old_keys = ", ".join(f"OLD.{q(k)}" for k in pk)
    out = []
    for event, values in (("INSERT", [new_keys]), ("DELETE", [old_keys]),
                          ("UPDATE", [old_keys, new_keys])):
        body = " ".join(f"INSERT INTO {q(record.queue_table)} ({keys}) VALUES ({v});"
                        for v in values)
        name = q(naming.capture_trigger(f"{record.id}_{event}"))
        out.append(f"CREATE TRIGGER {name} AFTER {event} ON {q(record.table_name)} "
                   f"BEGIN {body} END")
    return out


def drop_triggers(prefix: str, record: MigrationRecord) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {q(f'{prefix}_{record.id}_{e}')}"
            for e in ("INSERT", "UPDATE", "DELETE")]
