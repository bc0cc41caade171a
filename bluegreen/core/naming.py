"""The names of the objects a migration makes, the same on every engine: they carry the
migration's id (so two migrations of one table never collide and every command finds its
own objects from the record) and a prefix the app's objects do not use.

``limit`` is the engine's identifier length (63 bytes on PostgreSQL; none on SQLite): a
name is cut to fit, keeping its id prefix and, for tables, its role suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "_bg"
CAPTURE = "bluegreen_capture"  # triggers (and, on PostgreSQL, functions) that queue keys
DRY_RUN_ID = "<id>"  # what --dry-run shows in place of the id a run would get
_OURS = re.compile(rf"{PREFIX}(\d+|<id>)o?_.*|{PREFIX}_trial_.*")


@dataclass(frozen=True)
class MigrationNames:
    shadow: str  # the new shape, filled by the copy; the live table after cutover
    old: str  # the live table after cutover, kept for rollback
    queue: str  # the captured keys (in the engine's state namespace)


def names(table: str, migration_id: int | str, limit: int | None = None,
          queue_prefix: str = "queue_") -> MigrationNames:
    """(shadow, old, queue) for a migration of ``table`` (its unqualified name)."""
    stem = f"{PREFIX}{migration_id}_{table}"
    if limit is not None:
        stem = stem[:limit - 4]
    return MigrationNames(f"{stem}_new", f"{stem}_old", f"{queue_prefix}{migration_id}")


def built(migration_id: int | str, final: str, limit: int | None = None) -> str:
    """The shadow's name for an index or constraint that takes ``final`` at cutover (index
    names share a namespace with the live table's, so they wait under a prefix)."""
    return parked(prefix(migration_id), final, limit)


def prefix(migration_id: int | str, old: bool = False) -> str:
    """The prefix of what waits on a migration's shadow (``old=False``) or was parked on its
    old table at cutover (``old=True``)."""
    return f"{PREFIX}{migration_id}{'o' if old else ''}_"


def parked(prefix: str, name: str, limit: int | None = None) -> str:
    return (prefix + name)[:limit] if limit else prefix + name


def trial(table: str, limit: int | None = None) -> str:
    """The table a copy builds and drops to check that the new shape builds."""
    return parked(f"{PREFIX}_trial_", table, limit)


def is_ours(name: str) -> bool:
    """A table bluegreen made for a migration (shadow, old copy, trial)."""
    return _OURS.fullmatch(name) is not None


def capture_trigger(suffix: int | str, limit: int | None = None) -> str:
    return parked(f"{CAPTURE}_", str(suffix), limit)
