"""Verify: compare the live table and its shadow range by range, at one snapshot, leaving
out the keys still queued; with repair, queue the ranges that differ and replay them.

Why it is exact while the app writes: a write changes the live row and queues its key in
the same transaction, and replay changes the shadow and takes the key off the queue in one
transaction; so at any snapshot every key is either queued or equal in both tables.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from bluegreen.core.state import RESUMABLE, require_active
from bluegreen.errors import BluegreenError
from bluegreen.results import VerifyResult

# A range's fingerprint on one side: (rows, a digest of them that any difference changes).
Digest = tuple[int, Any]


class Verifier(Protocol):
    """An engine's side of verify, for one migration."""

    def snapshot(self) -> AbstractContextManager[None]:
        """One read-only snapshot of both tables and the queue, for the whole comparison."""
        ...

    def boundary(self, lo: list | None, rows: int) -> list | None:
        """The key ``rows`` rows after ``lo`` in the live table (None: the range is the
        rest of the table)."""
        ...

    def digests(self, lo: list | None, hi: list | None) -> tuple[Digest, Digest]:
        """The fingerprints of the range (lo, hi] in the live table and in the shadow,
        without the queued keys."""
        ...

    def requeue(self, lo: list | None, hi: list | None) -> int:
        """Queue every key of the range (live or shadow) for replay; how many."""
        ...

    def replay_all(self) -> None:
        """Replay the queue until it is empty."""
        ...


class VerifyEngine(Protocol):
    def table_key(self, table: str) -> str: ...

    @property
    def store(self) -> Any: ...

    def check_identity(self, record: Any, action: str) -> None: ...

    def verifier(self, record: Any) -> AbstractContextManager[Verifier]: ...


def verify(engine: VerifyEngine, table: str, *, repair: bool = False,
           chunk_rows: int = 50_000) -> VerifyResult:
    """Compare live and shadow; list the key ranges that differ (and re-sync them with
    ``repair``)."""
    key = engine.table_key(table)
    (record,) = require_active(engine.store, [key], RESUMABLE, "verify",
                               hint="nothing to verify")
    engine.check_identity(record, "verify")
    if not (record.backfill_done and record.indexes_built):
        raise BluegreenError(f"the backfill of {record.table_name} is not finished; run "
                             "`bluegreen copy` until it is synced, then verify")
    result = VerifyResult(record.table_name, 0, 0, 0)
    with engine.verifier(record) as verifier:
        with verifier.snapshot():
            lo: list | None = None
            while True:
                hi = verifier.boundary(lo, chunk_rows)
                live, shadow = verifier.digests(lo, hi)
                result.ranges += 1
                result.rows_live += live[0]
                result.rows_shadow += shadow[0]
                if live != shadow:
                    result.differing.append((lo, hi))
                if hi is None:
                    break
                lo = hi
        if repair and result.differing:
            for lo, hi in result.differing:
                result.repaired_keys += verifier.requeue(lo, hi)
            verifier.replay_all()
    return result
