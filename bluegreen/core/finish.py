"""The two ends of a migration that drop things: abort (before cutover: the shadow, the
triggers, the queue; the live table stays as it was) and finish (after cutover, the contract
step: the old table, the triggers, the queue). The same steps on every engine: the engine
says what to drop and which locks to take; here they run in one transaction under the lock
timeout, retried with backoff, and the state moves on in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from bluegreen.core.retry import DEFAULT_BACKOFF, Backoff
from bluegreen.core.state import (
    ACTIVE_STATES,
    MigrationRecord,
    MigrationStore,
    already_in,
    require_active,
)
from bluegreen.errors import BluegreenError, LockBusy
from bluegreen.results import AbortResult, FinishResult

T = TypeVar("T")


class FinishEngine(Protocol):
    store: MigrationStore

    def table_key(self, table: str) -> str: ...

    def now(self) -> Any: ...

    def check_identity(self, record: MigrationRecord, action: str) -> None: ...

    def tables_replaced(self, record: MigrationRecord) -> bool: ...

    def abort_statements(self, record: MigrationRecord) -> list[str]: ...

    def finish_statements(self, records: list[MigrationRecord]) -> list[str]: ...

    def finish_locks(self, records: list[MigrationRecord]) -> list[str]: ...

    def before_finish(self, records: list[MigrationRecord]) -> None: ...

    def transaction(self, lock_timeout_ms: int, locks: Sequence[str] = ()
                    ) -> AbstractContextManager[None]: ...

    def execute(self, statement: str, action: str) -> None: ...

    def script(self, lock_timeout_ms: int, locks: Sequence[str],
               statements: Sequence[str]) -> list[str]: ...

    def notify_control(self) -> None: ...


def with_retries(work: Callable[[], T], retries: int, backoff: Backoff,
                 refusal: str) -> T:
    """``work()``, again after a pause while its locks are not granted in time."""
    for attempt in range(1, retries + 2):
        try:
            return work()
        except LockBusy:
            if attempt > retries:
                break
            time.sleep(backoff.delay(attempt))
    raise BluegreenError(refusal)


def abort(engine: FinishEngine, table: str, *, dry_run: bool = False,
          lock_timeout_ms: int = 500, retries: int = 10,
          backoff: Backoff = DEFAULT_BACKOFF) -> AbortResult:
    """Before cutover: drop the shadow, the triggers and the queue; the live table stays.

    A migration whose tables were replaced by someone else can be aborted in any active
    state: then only bluegreen's own objects are dropped."""
    key = engine.table_key(table)
    ended = already_in(engine.store, [key], "aborted")
    if ended is not None:
        return AbortResult(ended[0], [])
    (record,) = require_active(engine.store, [key], ACTIVE_STATES, "abort",
                               hint="nothing to abort")
    if record.state == "cut_over" and not engine.tables_replaced(record):
        raise BluegreenError(
            f"cannot abort {record.table_name}: it is cut over; roll it back first "
            f"(`bluegreen rollback {record.table_name}`), or finish it")
    statements = engine.abort_statements(record)
    if dry_run:
        return AbortResult(record, engine.script(lock_timeout_ms, (), statements))

    def work() -> MigrationRecord:
        with engine.transaction(lock_timeout_ms):
            for statement in statements:
                engine.execute(statement, "abort")
            engine.store.forget_chunks(record)
            return engine.store.move(record, "abort", finished_at=engine.now())

    done = with_retries(work, retries, backoff,
                        f"could not lock {record.table_name} to drop the capture trigger; "
                        "nothing was changed; retry when it is quieter")
    engine.notify_control()  # a copy still running stops now, with one line
    return AbortResult(done, statements)


def finish(engine: FinishEngine, tables: list[str], *, dry_run: bool = False,
           lock_timeout_ms: int = 500, retries: int = 10,
           backoff: Backoff = DEFAULT_BACKOFF) -> FinishResult:
    """The contract step: drop the old tables, the triggers and the queues of every table
    named, in one transaction."""
    ended = already_in(engine.store, [engine.table_key(t) for t in tables], "finished")
    if ended is not None:
        return FinishResult(ended, [])
    records = require_active(engine.store, [engine.table_key(t) for t in tables],
                             ("cut_over",), "finish", hint="nothing to finish")
    for record in records:
        engine.check_identity(record, "finish")
    statements = engine.finish_statements(records)
    locks = engine.finish_locks(records)
    if dry_run:
        return FinishResult(records, engine.script(lock_timeout_ms, locks, statements))
    engine.before_finish(records)

    def work() -> list[MigrationRecord]:
        with engine.transaction(lock_timeout_ms, locks):
            for statement in statements:
                engine.execute(statement, "finish")
            for record in records:
                engine.store.forget_chunks(record)
                engine.store.move(record, "finish", finished_at=engine.now())
        return [engine.store.get(r.id) for r in records]

    done = with_retries(work, retries, backoff,
                        "finish could not get its locks; nothing was changed; retry later")
    return FinishResult(done, statements)
