"""Run a migration phase by phase. Engine-neutral.

For each revision in order, the steps of the phase not done yet, each recorded as it goes,
so a rerun skips what is done and resumes what was interrupted. A statement that waits for a
lock longer than the lock timeout gives way and is tried again with backoff, so a busy table
delays the migration, not the app. (Undoing an expand phase: bluegreen.core.apply.revert.)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bluegreen.core.apply import shadow, sqltext
from bluegreen.core.apply.build import build_revision, prepare_statements
from bluegreen.core.apply.model import ApplyPhase, Kind, RevisionSteps, StepSpec
from bluegreen.core.apply.revisions import Revision
from bluegreen.core.apply.store import ApplyStore, RevisionRecord, StepRecord
from bluegreen.core.pace import ThrottleSettings
from bluegreen.core.retry import DEFAULT_BACKOFF, Backoff
from bluegreen.core.throttle import StepPacer
from bluegreen.engines.base import ApplyEngine
from bluegreen.errors import (
    BluegreenError,
    ChangedRevision,
    ExpandIncomplete,
    LockBusy,
    StepFailed,
    UnsafeRefused,
)

T = TypeVar("T")


# ---- what goes in and what comes out ----------------------------------------------------------

@dataclass
class ApplyOptions:
    phase: ApplyPhase = ApplyPhase.EXPAND
    lock_timeout_ms: int = 2000
    retries: int = 10
    allow_unsafe: bool = False
    throttle: Any = None  # the engine's throttle settings (copy's options)
    chunk_rows: int | None = None  # None: adapt to about half a second per range
    copy_options: Any = None  # the engine's copy options
    version_table: str = "alembic_version"
    version_schema: str | None = None
    backoff: Backoff = DEFAULT_BACKOFF


@dataclass
class ApplyEvent:
    """One thing that happened, for the CLI to render (text or one JSON object per line)."""

    event: str  # revision | step | progress | message
    revision: str | None = None
    phase: str | None = None
    seq: int | None = None
    total: int | None = None
    kind: str | None = None
    description: str | None = None
    status: str | None = None  # started | done | skipped | (revision) running | done
    seconds: float | None = None
    lock_wait_ms: float | None = None
    rows: int | None = None
    attempts: int | None = None
    blocked_ms: float | None = None  # a cutover or rollback: how long writes were blocked
    progress: dict[str, Any] | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


Events = Callable[[ApplyEvent], None]


@dataclass
class ScriptStep:
    revision: str
    phase: str
    seq: int
    description: str
    script: str


@dataclass
class ApplyResult:
    phase: str
    dry_run: bool
    steps_run: int = 0
    steps_skipped: int = 0
    revisions_done: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)  # at or below alembic_version
    stamped: str | None = None
    seconds: float = 0.0
    lock_wait_ms: float = 0.0
    scripts: list[ScriptStep] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.dry_run and self.steps_run == 0

    def to_dict(self) -> dict[str, Any]:
        out = {"event": "summary", "phase": self.phase, "dry_run": self.dry_run,
               "steps_run": self.steps_run, "steps_skipped": self.steps_skipped,
               "revisions": self.revisions_done, "already_applied": self.already_applied,
               "stamped": self.stamped, "seconds": round(self.seconds, 3),
               "lock_wait_ms": round(self.lock_wait_ms, 1)}
        if self.dry_run:
            out["steps"] = [s.__dict__ for s in self.scripts]
        return out




def ignore(event: ApplyEvent) -> None:
    return None


# ---- planning ---------------------------------------------------------------------------------

def plan_revisions(engine: ApplyEngine, revisions: Sequence[Revision], *,
                   allow_unsafe: bool) -> dict[str, RevisionSteps]:
    """Judge every statement of ``revisions`` against the database's schema as the earlier
    ones leave it, and turn each revision's changes into steps. Refuses (exit 1) before
    anything runs if a statement is unsafe and has no safe steps."""
    from bluegreen.planner.engine import build_plan

    if not revisions:
        return {}
    schema, target = engine.load_schema()
    statements = [s for r in revisions for s in r.statements]
    prepare_statements(statements)
    before = copy.deepcopy(schema)
    plan = build_plan(statements, schema, target)
    out: dict[str, RevisionSteps] = {}
    offset = 0
    for revision in revisions:
        count = len(revision.statements)
        steps = build_revision(revision.statements, plan.changes[offset:offset + count],
                               before, allow_unsafe=allow_unsafe, target=target.traits)
        if steps.refusals:
            raise UnsafeRefused(revision.label, steps.refusals)
        out[revision.key] = steps
        for statement in revision.statements:
            for op in statement.ops:
                before.apply(op, in_migration=True)
        before.end_migration()
        offset += count
    return out


def _scripts(engine: ApplyEngine, steps: RevisionSteps, lock_timeout_ms: int
             ) -> dict[tuple[ApplyPhase, int], str]:
    return {(phase, seq): engine.render_step(step, lock_timeout_ms)
            for phase in ApplyPhase for seq, step in enumerate(steps.phase(phase), 1)}


# ---- apply ------------------------------------------------------------------------------------

def already_applied(engine: ApplyEngine, revisions: Sequence[Revision],
                    options: ApplyOptions) -> set[str]:
    """Alembic revisions at or below the app's own alembic_version: Alembic ran them."""
    dirs = {r.versions_dir for r in revisions if r.alembic_revision and r.versions_dir}
    if not dirs:
        return set()
    heads = engine.app_heads(options.version_table, options.version_schema)
    if not heads:
        return set()
    from alembic.script import ScriptDirectory

    out: set[str] = set()
    for directory in dirs:
        script = ScriptDirectory(str(directory), version_locations=[str(directory)])
        for head in heads:
            try:
                out |= {r.revision for r in script.iterate_revisions(head, "base")}
            except Exception:  # a head from another versions directory
                continue
    return out


def run_apply(engine: ApplyEngine, revisions: Sequence[Revision], options: ApplyOptions, *,
              dry_run: bool = False, on_event: Events = ignore) -> ApplyResult:
    """Run ``options.phase`` of every revision (or, with ``dry_run``, say what would run)."""
    started = time.monotonic()
    result = ApplyResult(options.phase.value, dry_run)
    with engine.apply_lock():
        store = engine.store
        applied = already_applied(engine, revisions, options)
        todo = [r for r in revisions if r.alembic_revision not in applied]
        result.already_applied = [r.label for r in revisions if r not in todo]
        records: dict[str, RevisionRecord | None] = {}
        for revision in todo:
            records[revision.key] = _current_record(store, revision, dry_run)
        planned: dict[str, RevisionSteps] = {}
        if options.phase is ApplyPhase.CONTRACT:
            for revision in todo:
                record = records[revision.key]
                if record is None or record.expand_state != "done":
                    raise ExpandIncomplete(revision.label, record.expand_state if record
                                           else "not started")
        else:
            new = [r for r in todo if records[r.key] is None]
            planned = plan_revisions(engine, new, allow_unsafe=options.allow_unsafe)
            if not dry_run:
                for revision in new:
                    steps = planned[revision.key]
                    records[revision.key] = store.record(
                        revision, steps, _scripts(engine, steps, options.lock_timeout_ms))
        if dry_run:
            result.scripts = _dry_run(engine, todo, records, planned, options)
            result.seconds = time.monotonic() - started
            return result
        for revision in todo:
            record = records[revision.key]
            assert record is not None
            _run_revision(engine, record, options, result, on_event)
            if options.phase is ApplyPhase.CONTRACT and revision.alembic_revision \
                    and revision.versions_dir is not None:
                engine.stamp(revision.versions_dir, revision.alembic_revision,
                             options.version_table, options.version_schema)
                result.stamped = revision.alembic_revision
    result.seconds = time.monotonic() - started
    return result


def _current_record(store: ApplyStore, revision: Revision, dry_run: bool
                    ) -> RevisionRecord | None:
    """The revision's record, or None when it is to be planned (again): never recorded,
    reverted, or changed before any of its steps ran."""
    record = store.revision(revision.key)
    if record is None:
        return None
    if record.content_hash != revision.content_hash:
        started = store.started_steps(record.id)
        if started and record.expand_state != "reverted":
            raise ChangedRevision(revision.source, started)
    elif record.expand_state != "reverted":
        return record
    if not dry_run:
        store.forget(record)
    return None


def _dry_run(engine: ApplyEngine, todo: Sequence[Revision],
             records: dict[str, RevisionRecord | None], planned: dict[str, RevisionSteps],
             options: ApplyOptions) -> list[ScriptStep]:
    out = []
    for revision in todo:
        record = records[revision.key]
        if record is None:
            specs = list(enumerate(planned[revision.key].phase(options.phase), 1))
        else:
            specs = [(s.seq, s.spec()) for s in engine.store.steps(record.id, options.phase)
                     if s.status != "done"]
        for seq, spec in specs:
            out.append(ScriptStep(revision.label, options.phase.value, seq, spec.description,
                                  engine.render_step(spec, options.lock_timeout_ms)))
    return out


def _run_revision(engine: ApplyEngine, record: RevisionRecord, options: ApplyOptions,
                  result: ApplyResult, on_event: Events) -> None:
    phase = options.phase
    store = engine.store
    steps = store.steps(record.id, phase)
    if record.state(phase) == "done":
        result.steps_skipped += len(steps)
        on_event(ApplyEvent("revision", record.label, phase.value, status="already done",
                            total=len(steps)))
        return
    on_event(ApplyEvent("revision", record.label, phase.value, status="running",
                        total=len(steps)))
    record = store.set_state(record, phase, "running", ("pending", "running"))
    for step in steps:
        if step.status == "done":
            result.steps_skipped += 1
            on_event(ApplyEvent("step", record.label, phase.value, step.seq, len(steps),
                                step.kind, step.description, "skipped"))
            continue
        _run_step(engine, record, step, len(steps), options, result, on_event)
        result.steps_run += 1
    store.set_state(record, phase, "done", ("running",))
    result.revisions_done.append(record.label)
    on_event(ApplyEvent("revision", record.label, phase.value, status="done",
                        total=len(steps)))


def retrying(options: ApplyOptions, on_event: Events, what: str,
              attempt: Callable[[int, float], T]) -> tuple[T, float, int]:
    """Run ``attempt(number, lock wait so far in ms)`` until it is not refused a lock;
    returns (its result, total lock wait in ms, attempts)."""
    waited = 0.0
    number = 0
    while True:
        number += 1
        began = time.monotonic()
        try:
            return attempt(number, waited), waited, number
        except LockBusy:
            waited += (time.monotonic() - began) * 1000
            if number > options.retries:
                raise BluegreenError(
                    f"{what}: gave up after {number} attempts; each waited over "
                    f"{options.lock_timeout_ms} ms for a lock another session held. Nothing "
                    "of this step was changed; run the same command again when it is "
                    "quieter, or raise --lock-timeout / --retries") from None
            delay = options.backoff.delay(number)
            on_event(ApplyEvent("message", message=f"{what}: a lock was busy for over "
                                f"{options.lock_timeout_ms} ms; retrying in {delay:.1f}s "
                                f"({number}/{options.retries})"))
            time.sleep(delay)


def _run_step(engine: ApplyEngine, record: RevisionRecord, step: StepRecord, total: int,
              options: ApplyOptions, result: ApplyResult, on_event: Events) -> None:
    spec = step.spec()
    store = engine.store
    script = engine.render_step(spec, options.lock_timeout_ms)
    label = f"revision {record.label} {step.phase} step {step.seq}/{total} " \
            f"({step.description})"
    on_event(ApplyEvent("step", record.label, step.phase, step.seq, total, step.kind,
                        step.description, "started"))
    began = time.monotonic()
    rows, waited, attempts = 0, 0.0, 1
    blocked_ms: float | None = None
    try:
        if spec.kind is Kind.SQL:
            def attempt(number: int, waited_so_far: float) -> int:
                with engine.transaction(options.lock_timeout_ms, spec.settings):
                    count = sum(max(engine.execute(s), 0) for s in spec.statements)
                    store.done(step, sql=script, rows=count, lock_wait_ms=waited_so_far,
                               attempts=number)
                return count

            rows, waited, attempts = retrying(options, on_event, label, attempt)
        else:
            store.running(step, script)
            if spec.kind is Kind.CONCURRENT:
                waited, attempts = _concurrent(engine, spec, options, on_event, label)
            elif spec.kind is Kind.BATCH:
                waited, attempts = _batch(engine, step, spec, options, on_event, label,
                                          record)
                rows = store.reload(step).rows_touched
            elif spec.kind is Kind.COPY:
                _copy(engine, spec, options, on_event, record, step)
            elif spec.kind is Kind.CUTOVER:
                blocked_ms = shadow.cutover_tables(engine.engine, spec.tables,
                                                   options.lock_timeout_ms, options.retries,
                                                   as_messages(on_event))
                store.done(step, sql=script, detail=dict(step.detail, lock_ms=blocked_ms))
            elif spec.kind is Kind.FINISH:
                shadow.finish_tables(engine.engine, spec.tables, options.lock_timeout_ms)
            if spec.kind is not Kind.CUTOVER:
                store.done(step, sql=script, rows=0, lock_wait_ms=waited, attempts=attempts)
    except StepFailed as error:
        store.failed(step, error.message, lock_wait_ms=waited)
        raise BluegreenError(
            f"{label} failed: {error.message}; nothing of this step was kept. Fix the cause "
            "and run the same command again (it resumes here), or `bluegreen revert` the "
            "expand phase") from None
    seconds = time.monotonic() - began
    result.lock_wait_ms += waited
    on_event(ApplyEvent("step", record.label, step.phase, step.seq, total, step.kind,
                        step.description, "done", seconds=seconds, lock_wait_ms=waited,
                        rows=rows, attempts=attempts, blocked_ms=blocked_ms))


def as_messages(on_event: Events) -> Callable[[str], None]:
    return lambda message: on_event(ApplyEvent("message", message=message))


def _concurrent(engine: ApplyEngine, spec: StepSpec, options: ApplyOptions,
                on_event: Events, label: str) -> tuple[float, int]:
    (statement,) = spec.statements
    timeout = concurrent_lock_timeout(statement, options.lock_timeout_ms)

    def attempt(number: int, waited_so_far: float) -> None:
        if engine.already_done(statement):
            return
        dropped = engine.clear_failed_build(statement)
        if dropped:
            on_event(ApplyEvent("message", message=f"{label}: dropped {dropped}, left INVALID "
                                                   "by an earlier run that did not finish"))
        engine.run_outside_transaction(statement, timeout, spec.settings)

    _, waited, attempts = retrying(options, on_event, label, attempt)
    return waited, attempts


def concurrent_lock_timeout(statement: str, lock_timeout_ms: int) -> int:
    """The lock timeout a statement outside a transaction runs under: none (0) for the
    concurrent index builds whose waits block nobody (see sqltext.waits_harmlessly)."""
    return 0 if sqltext.waits_harmlessly(sqltext.split(statement)[0].node) else lock_timeout_ms


def _batch(engine: ApplyEngine, step: StepRecord, spec: StepSpec, options: ApplyOptions,
           on_event: Events, label: str, record: RevisionRecord) -> tuple[float, int]:
    """The change in primary-key ranges up to the largest key when the step began, each
    range in its own transaction with its checkpoint; a rerun continues after the last
    range that committed."""
    batch = spec.batch
    assert batch is not None
    store = engine.store
    types = engine.key_types(batch.table, batch.key)
    checkpoint = dict(step.checkpoint or {})
    if "last" not in checkpoint:
        checkpoint = {"last": engine.max_key(batch.table, batch.key, types), "lo": None}
        store.checkpoint(step, checkpoint)
    last, lo = checkpoint["last"], checkpoint["lo"]
    if last is None:
        return 0.0, 1  # an empty table
    estimate = engine.row_estimate(batch.table)
    done_rows = step.rows_touched
    pacer = StepPacer(engine.throttle(options.throttle or ThrottleSettings()), options.chunk_rows)
    statements = {has_lo: engine.range_statement(batch, types, has_lo) for has_lo in (False, True)}
    total_wait, total_retries = 0.0, 0
    try:
        while lo != last:
            hi = engine.next_boundary(batch.table, batch.key, types, lo, last, pacer.size) \
                or last
            pacer.wait(pacer.size)
            began = time.monotonic()

            def attempt(number: int, waited_so_far: float, lo: Any = lo,
                        hi: Any = hi) -> int:
                with engine.transaction(options.lock_timeout_ms, spec.settings):
                    count = max(engine.execute(statements[lo is not None],
                                               [*(lo or []), *hi]), 0)
                    store.checkpoint(step, {"last": last, "lo": hi}, count)
                return count

            rows, waited, attempts = retrying(options, on_event, label, attempt)
            pacer.observe(rows, time.monotonic() - began)
            total_wait += waited
            total_retries += attempts - 1
            done_rows += rows
            lo = hi
            on_event(ApplyEvent("progress", record.label, step.phase, step.seq,
                                kind=step.kind, description=step.description,
                                progress={"rows": done_rows, "rows_total": estimate,
                                          "chunk": pacer.size}))
    finally:
        pacer.close()
    return total_wait, 1 + total_retries


def _copy(engine: ApplyEngine, spec: StepSpec, options: ApplyOptions, on_event: Events,
          record: RevisionRecord, step: StepRecord) -> None:
    (table,) = spec.tables

    def progress(p: Any) -> None:
        on_event(ApplyEvent("progress", record.label, step.phase, step.seq, kind=step.kind,
                            description=step.description, progress=p.to_dict()))

    shadow.copy_table(engine.engine, table, spec.alter or "", options.copy_options, progress,
                      as_messages(on_event))
