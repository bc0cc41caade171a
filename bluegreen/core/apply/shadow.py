"""apply's shadow steps: a rewrite as copy -> verify -> cutover (and finish, or abort and
rollback for revert), through the same copier and switch as the commands of those names.

Each is idempotent, as a step that was killed and runs again must be: a copy already cut
over is done; a cutover whose tables are cut over only validates what it left pending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bluegreen.core.copy import CopyOptions
from bluegreen.core.finish import abort, finish
from bluegreen.core.switch import switch
from bluegreen.core.verify import verify
from bluegreen.errors import StepFailed


def _active(engine: Any, table: str) -> Any:
    return engine.store.active(engine.table_key(table))


def copy_table(engine: Any, table: str, alter: str, options: Any,
               on_progress: Callable[[Any], None], on_event: Callable[[str], None]) -> None:
    """Copy ``table`` into its new shape (``alter``: ALTER TABLE statements), and verify."""
    record = _active(engine, table)
    if record is not None and record.state in ("cut_over", "finished"):
        return
    shape = engine.shadow_alter(table, alter)
    if record is not None and record.alter_sql.strip() != shape.strip():
        raise StepFailed(f"{table} already has a bluegreen copy with --alter "
                         f"{record.alter_sql!r}, which this migration did not start; finish "
                         f"or `bluegreen abort {table}` it first")
    engine.copy(table, None if record else shape, options or CopyOptions(), on_progress,
                on_event)
    result = verify(engine, table, repair=True)
    if result.differing:
        on_event(f"verify re-synced {result.repaired_keys} keys of {table}")
        if verify(engine, table).differing:
            raise StepFailed(f"{table}: the shadow still differs from the live table after a "
                             f"repair; run `bluegreen verify {table}` and look at the ranges "
                             "it lists")


def cutover_tables(engine: Any, tables: Sequence[str], lock_timeout_ms: int, retries: int,
                   on_event: Callable[[str], None]) -> float:
    """Switch ``tables`` together; how long writes were blocked (ms)."""
    records = [_active(engine, t) for t in tables]
    if all(r is not None and r.state == "cut_over" for r in records):
        if any(r.detail.get("pending_validation") for r in records):
            switch(engine, list(tables), "cutover")  # validates what the commit left pending
        return 0.0
    return switch(engine, list(tables), "cutover", lock_timeout_ms=lock_timeout_ms,
                  retries=retries, on_event=on_event).lock_ms


def rollback_tables(engine: Any, tables: Sequence[str], lock_timeout_ms: int, retries: int,
                    on_event: Callable[[str], None]) -> float | None:
    """Roll back those of ``tables`` still cut over; how long writes were blocked (ms)."""
    cut = [t for t in tables if (r := _active(engine, t)) is not None and r.state == "cut_over"]
    if not cut:
        return None
    return switch(engine, cut, "rollback", lock_timeout_ms=lock_timeout_ms, retries=retries,
                  on_event=on_event).lock_ms


def abort_copy(engine: Any, table: str) -> None:
    if _active(engine, table) is not None:
        abort(engine, table)


def finish_tables(engine: Any, tables: Sequence[str], lock_timeout_ms: int) -> None:
    cut = [t for t in tables if (r := _active(engine, t)) is not None and r.state == "cut_over"]
    if cut:
        finish(engine, cut, lock_timeout_ms=lock_timeout_ms)
