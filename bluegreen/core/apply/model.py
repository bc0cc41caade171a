"""What apply runs: steps, grouped by revision and phase. Plain data; the runner executes
it through an engine, the CLI renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bluegreen.planner.model import Batch


class Kind(str, Enum):
    """How a step runs."""

    SQL = "sql"  # its statements in one transaction, under lock_timeout, retried
    CONCURRENT = "concurrent"  # one statement outside a transaction (CONCURRENTLY, ADD VALUE)
    BATCH = "batch"  # an UPDATE or DELETE in primary-key ranges, throttled, checkpointed
    COPY = "copy"  # a shadow copy of one table with the new shape (bluegreen copy)
    CUTOVER = "cutover"  # switch the revision's copied tables together (bluegreen cutover)
    FINISH = "finish"  # drop the old tables of a cutover (bluegreen finish)


class ApplyPhase(str, Enum):
    EXPAND = "expand"
    CONTRACT = "contract"


@dataclass
class Mirror:
    """A column added beside another and kept equal to it by a sync trigger: reverting it
    loses only values the other column lacks."""

    table: str
    column: str
    source: str


@dataclass
class Loss:
    """What reverting a step would throw away: ``sql`` counts the values (or rows) the new
    app wrote that exist nowhere else."""

    what: str
    sql: str


@dataclass
class StepSpec:
    """One step of a revision's phase, as planned (before it is recorded)."""

    phase: ApplyPhase
    kind: Kind
    description: str
    source: str  # file:line of the statement it comes from
    statements: list[str] = field(default_factory=list)  # SQL / CONCURRENT
    settings: list[str] = field(default_factory=list)  # the migration's own SET statements
    tables: list[str] = field(default_factory=list)  # COPY (one), CUTOVER / FINISH
    alter: str | None = None  # COPY: the new shape, as ALTER TABLE statements
    batch: Batch | None = None  # BATCH
    inverse: list[str] | None = field(default_factory=list)  # None: cannot be undone
    inverse_note: str | None = None  # what revert keeps, and why
    mirror: Mirror | None = None
    losses: list[Loss] = field(default_factory=list)

    def detail(self) -> dict[str, Any]:
        """What the recorded step needs to run again (stored as JSON)."""
        out: dict[str, Any] = {"source": self.source, "statements": self.statements,
                               "settings": self.settings}
        if self.tables:
            out["tables"] = self.tables
        if self.alter is not None:
            out["alter"] = self.alter
        if self.batch is not None:
            out["batch"] = self.batch.to_dict()
        if self.inverse is not None:
            out["inverse_statements"] = self.inverse
        if self.inverse_note:
            out["inverse_note"] = self.inverse_note
        if self.mirror is not None:
            out["mirror"] = self.mirror.__dict__
        if self.losses:
            out["losses"] = [loss.__dict__ for loss in self.losses]
        return out

    @classmethod
    def from_detail(cls, phase: str, kind: str, description: str, detail: dict[str, Any]
                    ) -> StepSpec:
        batch = detail.get("batch")
        mirror = detail.get("mirror")
        return cls(
            phase=ApplyPhase(phase), kind=Kind(kind), description=description,
            source=detail.get("source", ""), statements=list(detail.get("statements", [])),
            settings=list(detail.get("settings", [])), tables=list(detail.get("tables", [])),
            alter=detail.get("alter"),
            batch=Batch(batch["table"], tuple(batch["key"]), batch["statement"])
            if batch else None,
            inverse=detail.get("inverse_statements"), inverse_note=detail.get("inverse_note"),
            mirror=Mirror(**mirror) if mirror else None,
            losses=[Loss(**loss) for loss in detail.get("losses", [])])


@dataclass
class Refusal:
    """A statement apply will not run: unsafe as written, and the planner has no steps."""

    source: str
    sql: str
    reason: str

    def line(self) -> str:
        first = self.sql.strip().splitlines()[0] if self.sql.strip() else ""
        return f"{self.source}: {first[:120]}: {self.reason}"


@dataclass
class RevisionSteps:
    expand: list[StepSpec] = field(default_factory=list)
    contract: list[StepSpec] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def phase(self, phase: ApplyPhase) -> list[StepSpec]:
        return self.expand if phase is ApplyPhase.EXPAND else self.contract
