"""What the commands return: plain data, shared by every engine and rendered by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from bluegreen.core.state import MigrationRecord


@dataclass
class Progress:
    table: str
    phase: str  # backfill | indexes | replay | synced | following
    rows_copied: int
    rows_total: int | None
    rows_per_second: float
    eta_seconds: float | None
    backlog: int
    rows_replayed: int
    chunk_size: int
    throttled: str | None
    rate_limit: float | None = None  # --max-rows-per-second, when given

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CopyResult:
    record: MigrationRecord
    resumed: bool
    warnings: list[str]
    seconds: float
    backlog: int
    already: bool = False  # the table was already cut over to this change: nothing was done


@dataclass
class SwitchResult:
    tables: list[str]
    action: str
    lock_ms: float
    attempts: int
    statements: list[str]
    warnings: list[str] = field(default_factory=list)
    records: list[MigrationRecord] = field(default_factory=list)
    already: bool = False  # every table was already switched this way: nothing was done

    def to_dict(self) -> dict:
        return {"action": self.action, "tables": self.tables, "lock_ms": self.lock_ms,
                "attempts": self.attempts, "warnings": self.warnings,
                "already": self.already,
                "states": {r.table_name: r.state for r in self.records}}


class AbortResult(NamedTuple):
    """An aborted migration (or, with --dry-run, the one that would be) and its SQL."""

    record: MigrationRecord
    statements: list[str]

    @property
    def already(self) -> bool:
        """It was already aborted, and nothing was done (an abort always drops something)."""
        return not self.statements


class FinishResult(NamedTuple):
    """The finished migrations (or, with --dry-run, those that would be) and their SQL."""

    records: list[MigrationRecord]
    statements: list[str]

    @property
    def already(self) -> bool:
        """They were already finished, and nothing was done (a finish always drops
        something)."""
        return not self.statements


@dataclass
class VerifyResult:
    table: str
    ranges: int
    rows_live: int
    rows_shadow: int
    differing: list[tuple[list | None, list | None]] = field(default_factory=list)
    repaired_keys: int = 0

    @property
    def equal(self) -> bool:
        return not self.differing

    def to_dict(self) -> dict:
        return {"table": self.table, "equal": self.equal, "ranges": self.ranges,
                "rows_live": self.rows_live, "rows_shadow": self.rows_shadow,
                "differing_ranges": [{"after": lo, "up_to": hi} for lo, hi in self.differing],
                "repaired_keys": self.repaired_keys}


@dataclass
class StatusRow:
    record: MigrationRecord
    backlog: int | None

    def to_dict(self) -> dict:
        out = self.record.to_dict()
        out["backlog"] = self.backlog
        return out


