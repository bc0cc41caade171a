"""apply's state: a record per revision and per step, in bluegreen's state schema (made by
``bluegreen init`` through bluegreen's own Alembic environment).

Every phase transition is conditional (``UPDATE ... WHERE state IN (expected)``) and fails
loudly when it touched no row, as the copier's transitions do. The store is written once for
every engine against ``Db`` (bluegreen.core.db), an adapter over the engine's connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluegreen.core.apply.model import ApplyPhase, RevisionSteps, StepSpec
from bluegreen.core.apply.revisions import Revision
from bluegreen.core.db import Db, record_dict, sql_for
from bluegreen.errors import BluegreenError


@dataclass
class RevisionRecord:
    id: int
    revision_key: str
    source: str
    alembic_revision: str | None
    content_hash: str
    expand_state: str
    contract_state: str
    detail: dict[str, Any]
    created_at: Any
    expand_done_at: Any
    contract_done_at: Any

    def state(self, phase: ApplyPhase) -> str:
        return self.expand_state if phase is ApplyPhase.EXPAND else self.contract_state

    @property
    def label(self) -> str:
        return self.alembic_revision or self.source


@dataclass
class StepRecord:
    revision_id: int
    phase: str
    seq: int
    kind: str
    description: str
    sql: str
    inverse: str | None
    status: str
    started_at: Any
    finished_at: Any
    rows_touched: int
    lock_wait_ms: float
    attempts: int
    checkpoint: dict[str, Any] | None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def spec(self) -> StepSpec:
        return StepSpec.from_detail(self.phase, self.kind, self.description, self.detail)

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)



def _json(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return json.loads(value)


class ApplyStore:
    """Revision and step records for apply, through ``db``."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def _sql(self, sql: str) -> str:
        return sql_for(self.db, sql)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.db.rows(self._sql(sql), params)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.run(self._sql(sql), params)

    # ---- revisions ------------------------------------------------------------------------

    def _revision(self, row: dict[str, Any]) -> RevisionRecord:
        row = dict(row)
        row["detail"] = _json(row["detail"]) or {}
        return RevisionRecord(**row)

    def revision(self, key: str) -> RevisionRecord | None:
        rows = self._rows("SELECT * FROM {p}apply_revisions WHERE revision_key = ?", (key,))
        return self._revision(rows[0]) if rows else None

    def revision_by_id(self, revision_id: int) -> RevisionRecord:
        rows = self._rows("SELECT * FROM {p}apply_revisions WHERE id = ?", (revision_id,))
        return self._revision(rows[0])

    def all_revisions(self) -> list[RevisionRecord]:
        return [self._revision(r) for r in
                self._rows("SELECT * FROM {p}apply_revisions ORDER BY id")]

    def record(self, revision: Revision, steps: RevisionSteps,
               scripts: dict[tuple[ApplyPhase, int], str]) -> RevisionRecord:
        """Record a revision and every step of both phases, before any of them runs."""
        with self.db.transaction():
            self._run("INSERT INTO {p}apply_revisions (revision_key, source, alembic_revision, "
                      "content_hash) VALUES (?, ?, ?, ?)",
                      (revision.key, revision.source, revision.alembic_revision,
                       revision.content_hash))
            record = self.revision(revision.key)
            assert record is not None
            for phase in ApplyPhase:
                for seq, step in enumerate(steps.phase(phase), 1):
                    inverse = ";\n".join(step.inverse) if step.inverse else None
                    self._run(
                        "INSERT INTO {p}apply_steps (revision_id, phase, seq, kind, "
                        "description, sql, inverse, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (record.id, phase.value, seq, step.kind.value, step.description,
                         scripts[(phase, seq)], inverse, json.dumps(step.detail())))
        return record

    def forget(self, record: RevisionRecord) -> None:
        """Drop the record of a revision none of whose steps ran (to plan it again)."""
        self._run("DELETE FROM {p}apply_revisions WHERE id = ?", (record.id,))

    def set_state(self, record: RevisionRecord, phase: ApplyPhase, new: str,
                  expected: tuple[str, ...]) -> RevisionRecord:
        """Move a revision's phase to ``new`` only from one of ``expected``."""
        column = f"{phase.value}_state"
        done_at = f", {phase.value}_done_at = {{now}}" if new == "done" else ""
        marks = ", ".join("?" for _ in expected)
        touched = self._run(f"UPDATE {{p}}apply_revisions SET {column} = ?{done_at} WHERE "
                            f"id = ? AND {column} IN ({marks})", (new, record.id, *expected))
        current = self.revision_by_id(record.id)
        if not touched:
            raise BluegreenError(
                f"{record.label}: its {phase.value} phase is {current.state(phase)}, not "
                f"{' or '.join(expected)}; another bluegreen command changed it meanwhile: "
                "run `bluegreen status` and try again")
        return current

    # ---- steps ----------------------------------------------------------------------------

    def _step(self, row: dict[str, Any]) -> StepRecord:
        row = dict(row)
        row["detail"] = _json(row["detail"]) or {}
        row["checkpoint"] = _json(row["checkpoint"])
        return StepRecord(**row)

    def steps(self, revision_id: int, phase: ApplyPhase | None = None) -> list[StepRecord]:
        if phase is None:
            rows = self._rows("SELECT * FROM {p}apply_steps WHERE revision_id = ? ORDER BY "
                              "phase DESC, seq", (revision_id,))
        else:
            rows = self._rows("SELECT * FROM {p}apply_steps WHERE revision_id = ? AND phase = "
                              "? ORDER BY seq", (revision_id, phase.value))
        return [self._step(r) for r in rows]

    def started_steps(self, revision_id: int) -> int:
        rows = self._rows("SELECT count(*) AS n FROM {p}apply_steps WHERE revision_id = ? AND "
                          "status <> 'pending'", (revision_id,))
        return int(rows[0]["n"])

    def _key(self, step: StepRecord) -> tuple[int, str, int]:
        return step.revision_id, step.phase, step.seq

    def running(self, step: StepRecord, sql: str) -> None:
        """Mark a step as started, before it runs (for steps that commit on their own)."""
        self._run("UPDATE {p}apply_steps SET status = 'running', sql = ?, started_at = "
                  "COALESCE(started_at, {now}), error = NULL WHERE revision_id = ? AND "
                  "phase = ? AND seq = ?", (sql, *self._key(step)))

    def done(self, step: StepRecord, *, sql: str, rows: int = 0, lock_wait_ms: float = 0.0,
             attempts: int = 1, detail: dict[str, Any] | None = None) -> None:
        """Mark a step done (inside the step's own transaction where it has one)."""
        self._run("UPDATE {p}apply_steps SET status = 'done', sql = ?, started_at = "
                  "COALESCE(started_at, {now}), finished_at = {now}, rows_touched = "
                  "rows_touched + ?, lock_wait_ms = lock_wait_ms + ?, attempts = attempts + ?, "
                  "detail = ?, error = NULL WHERE revision_id = ? AND phase = ? AND seq = ?",
                  (sql, rows, lock_wait_ms, attempts,
                   json.dumps(detail if detail is not None else step.detail), *self._key(step)))

    def failed(self, step: StepRecord, error: str, *, lock_wait_ms: float = 0.0,
               attempts: int = 0) -> None:
        self._run("UPDATE {p}apply_steps SET status = 'failed', error = ?, lock_wait_ms = "
                  "lock_wait_ms + ?, attempts = attempts + ? WHERE revision_id = ? AND phase = ? "
                  "AND seq = ?", (error[:2000], lock_wait_ms, attempts, *self._key(step)))

    def checkpoint(self, step: StepRecord, checkpoint: dict[str, Any], rows: int = 0) -> None:
        """Progress of a long step, written in the same transaction as the work it records."""
        self._run("UPDATE {p}apply_steps SET checkpoint = ?, rows_touched = rows_touched + ? "
                  "WHERE revision_id = ? AND phase = ? AND seq = ?",
                  (json.dumps(checkpoint), rows, *self._key(step)))

    def reverted(self, step: StepRecord) -> None:
        self._run("UPDATE {p}apply_steps SET status = 'reverted', finished_at = {now} WHERE "
                  "revision_id = ? AND phase = ? AND seq = ?", self._key(step))

    def reload(self, step: StepRecord) -> StepRecord:
        rows = self._rows("SELECT * FROM {p}apply_steps WHERE revision_id = ? AND phase = ? "
                          "AND seq = ?", self._key(step))
        return self._step(rows[0])

    def iter_running(self) -> Iterator[StepRecord]:
        for row in self._rows("SELECT * FROM {p}apply_steps WHERE status = 'running' ORDER BY "
                              "revision_id, phase DESC, seq"):
            yield self._step(row)
