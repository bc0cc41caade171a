"""The copy's steps, the same on every engine: resume or create, backfill, indexes, replay
until the backlog is small, synced, and optionally follow. An engine (PostgreSQL's Copier,
SQLite's) supplies how each step runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bluegreen.core.pace import ThrottleSettings
from bluegreen.errors import BadAlter, BluegreenError, CopyCancelled, WrongState
from bluegreen.results import CopyResult


@dataclass
class CopyOptions:
    chunk_size: int | None = None  # None: adapt to target_chunk_seconds
    workers: int = 2
    sync_threshold: int = 1000
    follow: bool = False
    # With --follow, once caught up: let changes gather this long, so each replay is one
    # set-wise batch rather than a loop spinning on every single write.
    follow_interval: float = 0.5
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    target_chunk_seconds: float = 0.5
    replay_batch: int = 5000
    lock_timeout_ms: int = 500
    long_transaction_seconds: int = 60


RESUMABLE = ("copying", "synced", "rolled_back")


def run_copy(engine: Any, alter_sql: str | None, options: CopyOptions,
             on_event: Callable[[str], None]) -> CopyResult:
    started = time.monotonic()
    store, key = engine.store, engine.key
    record = store.active(key)
    if record is not None and record.state == "cut_over" and (
            alter_sql is None or alter_sql.strip() == record.alter_sql):
        # A pipeline running the step again after its cutover: nothing to do.
        return CopyResult(record=record, resumed=True, warnings=[], seconds=0.0, backlog=0,
                          already=True)
    resumed = record is not None
    engine.inspect()
    if record is None:
        if alter_sql is None:
            raise BluegreenError(f"no copy of {key} to resume; start one with --alter "
                                 "\"ALTER TABLE ...\"")
        if not alter_sql.strip():
            raise BadAlter(f"--alter is empty: give the change to make, e.g. --alter \"ALTER "
                           f"TABLE {key} ALTER COLUMN ... TYPE ...\" (nothing was created)")
        record = engine.create(alter_sql)
        on_event(f"created {record.shadow_table} and the capture triggers")
    else:
        if record.state not in RESUMABLE:
            raise WrongState(key, record.state, RESUMABLE, "copy")
        if alter_sql is not None and alter_sql.strip() != record.alter_sql:
            raise BluegreenError(
                f"{key} already has a copy in progress with --alter {record.alter_sql!r}; run "
                f"it again with the same --alter (or none) to resume, or `bluegreen abort "
                f"{key}` first")
        on_event(f"resuming the copy of {key} ({record.rows_copied} rows already copied)")
    work = engine.open(record)
    try:
        if not record.backfill_done:
            work.backfill()
            if engine.stop.is_set():
                raise CopyCancelled(key)
            store.update(record, backfill_done=True)
        if not store.get(record.id).indexes_built:
            work.build_secondary()
            store.update(record, indexes_built=True)
        while True:
            if engine.stop.is_set():
                raise CopyCancelled(key)
            work.drain()
            if work.backlog() < options.sync_threshold:
                break
        record = store.get(record.id)
        if record.state == "copying":
            record = store.transition(record, ("copying",), "synced", "sync",
                                      synced_at=engine.now())
        work.report("synced")
        if options.follow:
            on_event("synced; following the live table until interrupted or cut over "
                     "(Ctrl-C to stop)")
            while not engine.stop.is_set() and store.get(record.id).state == "synced":
                work.drain()  # until the queue is below one batch
                engine.stop.wait(options.follow_interval)
        return CopyResult(record=store.get(record.id), resumed=resumed,
                          warnings=engine.warnings, seconds=time.monotonic() - started,
                          backlog=work.backlog())
    finally:
        work.close()
