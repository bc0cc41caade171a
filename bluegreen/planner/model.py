"""The planner's output: one Change per statement or Alembic op, grouped in a Plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Phase(str, Enum):
    """When a change may run relative to the blue (old) app version.

    The order matters: a change takes the latest phase any rule gives it.
    """

    EXPAND = "expand"
    CONTRACT = "contract"
    BREAKING = "breaking"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)


class Strategy(str, Enum):
    DIRECT = "direct"
    SHADOW = "shadow"
    EXPAND_CONTRACT = "expand-contract"
    MANUAL = "manual"

    @property
    def rank(self) -> int:
        return list(Strategy).index(self)


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Batch:
    """A data change that ``bluegreen apply`` runs in primary-key ranges, one transaction
    each: ``statement`` (an UPDATE or DELETE of ``table``) with ``AND (key) > lo AND (key)
    <= hi`` added for each range."""

    table: str
    key: tuple[str, ...]
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": list(self.key), "statement": self.statement}


@dataclass(frozen=True)
class Step:
    """One step of a safe rewrite. ``repeat`` means: run until it touches no row; ``batch``
    says how to run it in key ranges instead (what ``bluegreen apply`` does)."""

    phase: str  # expand | migrate | contract
    description: str
    sql: str | None = None
    command: str | None = None
    repeat: bool = False
    batch: Batch | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "description": self.description}
        if self.sql is not None:
            out["sql"] = self.sql
        if self.command is not None:
            out["command"] = self.command
        if self.repeat:
            out["repeat"] = True
        if self.batch is not None:
            out["batch"] = self.batch.to_dict()
        return out


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    fix: str
    fix_sql: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
        }
        if self.fix_sql:
            out["fix_sql"] = self.fix_sql
        return out


@dataclass(frozen=True)
class Verdict:
    """What one rule says about one operation. The engine merges verdicts into a Change."""

    rule: str
    severity: Severity
    message: str
    fix: str
    phase: Phase = Phase.EXPAND
    blocking: bool = False
    strategy: Strategy = Strategy.DIRECT
    fix_sql: str | None = None
    steps: tuple[Step, ...] = ()
    # True when the statement blocks only because an earlier statement of its transaction
    # holds a lock: run on its own (as bluegreen apply runs each step), it would not.
    transaction: bool = False
    held_by: tuple[dict[str, str], ...] = ()  # the earlier statements' locks, when transaction

    def finding(self) -> Finding:
        return Finding(self.rule, self.severity, self.message, self.fix, self.fix_sql)


@dataclass
class Change:
    source: str  # file:line
    sql: str
    operation: str
    table: str | None
    phase: Phase = Phase.EXPAND
    blocking: bool = False
    strategy: Strategy = Strategy.DIRECT
    lock: str | None = None
    operations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    table_rows: int | None = None
    file: str = ""
    line: int = 0
    neutral: bool = False  # transaction control and session settings: no phase of their own
    # ``blocking`` as written; ``blocking_alone`` when run in a transaction of its own (what
    # bluegreen apply does). They differ when an earlier statement of the same transaction
    # holds a lock while this one works; ``held_by`` then names it.
    blocking_alone: bool = False
    held_by: list[dict[str, str]] = field(default_factory=list)

    def apply(self, verdict: Verdict) -> None:
        if verdict.phase.rank > self.phase.rank:
            self.phase = verdict.phase
        self.blocking = self.blocking or verdict.blocking
        if not verdict.transaction:
            self.blocking_alone = self.blocking_alone or verdict.blocking
        for held in verdict.held_by:
            if held not in self.held_by:
                self.held_by.append(held)
        if verdict.strategy.rank > self.strategy.rank:
            self.strategy = verdict.strategy
        self.findings.append(verdict.finding())
        for step in verdict.steps:
            if step not in self.steps:
                self.steps.append(step)

    @property
    def is_problem(self) -> bool:
        return (
            self.phase is Phase.BREAKING
            or self.blocking
            or any(f.severity is Severity.ERROR for f in self.findings)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "sql": self.sql,
            "operation": self.operation,
            "table": self.table,
            "phase": self.phase.value,
            "blocking": self.blocking,
            "blocking_alone": self.blocking_alone,
            "strategy": self.strategy.value,
            "lock": self.lock,
            "findings": [f.to_dict() for f in self.findings],
            "steps": [s.to_dict() for s in self.steps],
        }
        if len(self.operations) > 1:
            out["operations"] = list(self.operations)
        if self.suppressed:
            out["suppressed"] = list(self.suppressed)
        if self.table_rows is not None:
            out["table_rows"] = self.table_rows
        if self.held_by:
            out["held_by"] = [dict(h) for h in self.held_by]
        return out


@dataclass(frozen=True)
class TargetTraits:
    """What a target database is like, as far as judging a migration goes."""

    label: str
    single_writer: bool  # one writer at a time: every write holds the database lock
    concurrent_index: bool  # CREATE INDEX CONCURRENTLY exists
    extra_keywords: bool  # its SQL has keywords PostgreSQL's grammar lacks (blanked)
    plpgsql: bool  # trigger functions in PL/pgSQL (the sync triggers of expand steps)
    updatable_views: bool  # a simple view takes writes (a renamed table's old name)
    versioned: bool  # rules depend on the server's major version
    default_version: int
    drop_column_if_exists: bool = True  # ALTER TABLE ... DROP COLUMN IF EXISTS
    alter_constraints: bool = True  # ALTER TABLE ... ADD/DROP CONSTRAINT
    triggers_on_table: bool = True  # a trigger's name is per table (DROP TRIGGER t ON tbl)


TARGETS: dict[str, TargetTraits] = {
    "postgresql": TargetTraits("PostgreSQL", single_writer=False, concurrent_index=True,
                               extra_keywords=False, plpgsql=True, updatable_views=True,
                               versioned=True, default_version=15),
    "sqlite": TargetTraits("SQLite", single_writer=True, concurrent_index=False,
                           extra_keywords=True, plpgsql=False, updatable_views=False,
                           versioned=False, default_version=3,
                           drop_column_if_exists=False, alter_constraints=False,
                           triggers_on_table=False),
}


@dataclass(frozen=True)
class Target:
    dialect: str  # a key of TARGETS
    version: int
    version_source: str = "default"  # option | database | default

    @property
    def traits(self) -> TargetTraits:
        return TARGETS[self.dialect]

    @property
    def single_writer(self) -> bool:
        return self.traits.single_writer

    @property
    def concurrent_index(self) -> bool:
        return self.traits.concurrent_index

    @property
    def label(self) -> str:
        traits = self.traits
        return f"{traits.label} {self.version}" if traits.versioned else traits.label


@dataclass
class Plan:
    target: Target
    changes: list[Change]
    assumptions: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = {p.value: 0 for p in Phase}
        for change in self.changes:
            counts[change.phase.value] += 1
        counts["blocking"] = sum(1 for c in self.changes if c.blocking)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "target": {"dialect": self.target.dialect, "version": self.target.version},
            "changes": [c.to_dict() for c in self.changes],
            "summary": self.summary(),
            "assumptions": list(self.assumptions),
        }
