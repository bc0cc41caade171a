"""Undo the expand phase of a migration, newest step first: each step by its recorded
inverse, a cutover by a rollback (lossless: the old table was kept in sync), a copy by an
abort. Refused once a revision's contract phase has started. Engine-neutral."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen.core.apply import shadow, sqltext
from bluegreen.core.apply.model import ApplyPhase, Kind, StepSpec
from bluegreen.core.apply.revisions import Revision
from bluegreen.core.apply.runner import (
    ApplyEvent,
    ApplyOptions,
    Events,
    as_messages,
    concurrent_lock_timeout,
    ignore,
    retrying,
)
from bluegreen.core.apply.store import RevisionRecord, StepRecord
from bluegreen.engines.base import ApplyEngine
from bluegreen.errors import BluegreenError, ContractStarted, Declined, StepFailed


@dataclass
class RevertAction:
    revision: str
    step: StepRecord
    spec: StepSpec
    script: str


@dataclass
class RevertPlan:
    actions: list[RevertAction] = field(default_factory=list)
    losses: list[tuple[str, int]] = field(default_factory=list)  # (what, values lost)
    kept: list[str] = field(default_factory=list)  # what revert cannot undo, and why
    revisions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"revisions": self.revisions,
                "steps": [{"revision": a.revision, "seq": a.step.seq,
                           "description": a.step.description, "script": a.script}
                          for a in self.actions],
                "losses": [{"what": w, "values": n} for w, n in self.losses],
                "kept": self.kept}


@dataclass
class RevertResult:
    plan: RevertPlan
    dry_run: bool
    steps_undone: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"event": "summary", "dry_run": self.dry_run, "steps_undone": self.steps_undone,
                "seconds": round(self.seconds, 3), **self.plan.to_dict()}


def revert_script(engine: ApplyEngine, spec: StepSpec, lock_timeout_ms: int) -> str:
    if spec.kind is Kind.CUTOVER:
        return f"-- bluegreen rollback {' '.join(spec.tables)}"
    if spec.kind is Kind.COPY:
        return f"-- bluegreen abort {' '.join(spec.tables)}"
    if spec.inverse is None:
        return f"-- kept: {spec.inverse_note or 'cannot be undone'}"
    if not spec.inverse:
        return "-- nothing to undo"
    return "\n".join(engine.render_step(_inverse_step(spec, statement), lock_timeout_ms)
                     for statement in spec.inverse)


def _inverse_step(spec: StepSpec, statement: str) -> StepSpec:
    (piece,) = sqltext.split(statement)
    kind = Kind.CONCURRENT if sqltext.outside_transaction(piece.node) else Kind.SQL
    return StepSpec(phase=ApplyPhase.EXPAND, kind=kind, description=f"undo: "
                    f"{spec.description}", source=spec.source, statements=[statement],
                    settings=spec.settings)


def plan_revert(engine: ApplyEngine, revisions: Sequence[Revision], lock_timeout_ms: int
                ) -> tuple[RevertPlan, list[RevisionRecord]]:
    store = engine.store
    plan = RevertPlan()
    records = []
    for revision in reversed(revisions):
        record = store.revision(revision.key)
        if record is None or record.expand_state == "reverted":
            continue
        contract = [s for s in store.steps(record.id, ApplyPhase.CONTRACT)
                    if s.status != "pending"]
        if record.contract_state != "pending" or contract:
            raise ContractStarted(record.label, [s.description for s in contract])
        records.append(record)
        plan.revisions.append(record.label)
        for step in reversed(store.steps(record.id, ApplyPhase.EXPAND)):
            if step.status in ("pending", "reverted"):
                continue
            spec = step.spec()
            plan.actions.append(RevertAction(record.label, step, spec,
                                             revert_script(engine, spec, lock_timeout_ms)))
            if spec.inverse is None and spec.kind not in (Kind.COPY, Kind.CUTOVER):
                plan.kept.append(f"revision {record.label}: {step.description}: "
                                 f"{spec.inverse_note or 'cannot be undone'}")
            if spec.inverse:
                for loss in spec.losses:
                    try:
                        count = int(engine.scalar(loss.sql) or 0)
                    except StepFailed:
                        continue  # already gone (a partial earlier revert)
                    if count:
                        plan.losses.append((loss.what, count))
    return plan, records


def run_revert(engine: ApplyEngine, revisions: Sequence[Revision], options: ApplyOptions, *,
               dry_run: bool = False, confirm: Callable[[RevertPlan], bool] | None = None,
               on_event: Events = ignore) -> RevertResult:
    """Undo the expand phase of ``revisions``, newest step first. Refuses once a contract
    phase has started; asks ``confirm`` before throwing away values the new app wrote."""
    started = time.monotonic()
    with engine.apply_lock():
        plan, records = plan_revert(engine, revisions, options.lock_timeout_ms)
        result = RevertResult(plan, dry_run)
        if dry_run:
            return result
        if plan.losses and (confirm is None or not confirm(plan)):
            raise Declined()
        store = engine.store
        total = len(plan.actions)
        for number, action in enumerate(plan.actions, 1):
            step = action.step
            on_event(ApplyEvent("step", action.revision, "revert", number, total, step.kind,
                                f"undo: {step.description}", "started"))
            began = time.monotonic()
            blocked_ms = _undo(engine, action, options, on_event)
            store.reverted(step)
            result.steps_undone += 1
            on_event(ApplyEvent("step", action.revision, "revert", number, total, step.kind,
                                f"undo: {step.description}", "done",
                                seconds=time.monotonic() - began, blocked_ms=blocked_ms))
        for record in records:
            store.set_state(record, ApplyPhase.EXPAND, "reverted",
                            ("pending", "running", "done"))
    result.seconds = time.monotonic() - started
    return result


def _undo(engine: ApplyEngine, action: RevertAction, options: ApplyOptions,
          on_event: Events) -> float | None:
    """Undo one step; for a rollback, how long it blocked writes (ms)."""
    spec, step = action.spec, action.step
    label = f"revert of revision {action.revision} step {step.seq} ({step.description})"
    if spec.kind is Kind.CUTOVER:
        return shadow.rollback_tables(engine.engine, spec.tables, options.lock_timeout_ms,
                                      options.retries, as_messages(on_event))
    if spec.kind is Kind.COPY:
        shadow.abort_copy(engine.engine, spec.tables[0])
        return None
    if not spec.inverse:
        return None
    store = engine.store
    done = int((engine.store.reload(step).checkpoint or {}).get("inverse_done", 0))
    for index, statement in enumerate(spec.inverse):
        if index < done:
            continue
        undo = _inverse_step(spec, statement)
        try:
            if undo.kind is Kind.CONCURRENT:
                timeout = concurrent_lock_timeout(statement, options.lock_timeout_ms)
                def build(number: int, waited: float, statement: str = statement,
                          timeout: int = timeout) -> None:
                    engine.run_outside_transaction(statement, timeout, spec.settings)

                retrying(options, on_event, label, build)
                store.checkpoint(step, {"inverse_done": index + 1})
            else:
                def attempt(number: int, waited: float, statement: str = statement,
                            index: int = index) -> None:
                    with engine.transaction(options.lock_timeout_ms, spec.settings):
                        engine.execute(statement)
                        store.checkpoint(step, {"inverse_done": index + 1})

                retrying(options, on_event, label, attempt)
        except StepFailed as error:
            raise BluegreenError(f"{label} failed: {error.message}; run `bluegreen revert` "
                                 "again once the cause is fixed (it continues here)") from None
    return None

