"""The backfill's walk over an engine's Chunker, on an in-memory table: every key copied
once, in ranges that follow the sizer, resumable from checkpoints, stopped by ``stop``, in
one loop or with threads. The engines' own Chunkers are exercised on real databases by the
contract suite (tests/engines/test_contract.py)."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import pytest

from bluegreen.core.backfill import Range, Walk, backfill, rate_note
from bluegreen.core.pace import ChunkSizer


class NoPace:
    waited = 0.0

    def wait(self, stop, rows=0):
        pass

    def settle(self, reserved, used):
        pass


class Store:
    """The two calls backfill makes on a migration store."""

    def __init__(self):
        self.detail: dict = {}
        self.total = None

    def get(self, _id):
        return type("R", (), {"detail": dict(self.detail)})()

    def update(self, record, detail, rows_total):
        import json

        self.detail, self.total = json.loads(detail), rows_total


class ListChunker:
    """A table of integer keys; checkpoints in a dict, like bluegreen.chunks."""

    def __init__(self, keys, fail_at=None):
        self.keys = sorted(keys)
        self.chunks: dict[int, tuple] = {}  # seq -> (lo, hi, done)
        self.copied: list[int] = []
        self.lock = threading.Lock()
        self.fail_at = fail_at

    def session(self, role):
        return nullcontext(None)

    def extent(self, session):
        return ([self.keys[-1]] if self.keys else None), len(self.keys)

    def checkpoints(self, session):
        seqs = sorted(self.chunks)
        pending = [Range(s, self.chunks[s][0], self.chunks[s][1], 10) for s in seqs
                   if not self.chunks[s][2]]
        return pending, (seqs[-1] if seqs else 0), (self.chunks[seqs[-1]][1] if seqs else None)

    def boundary(self, session, lo, last, size):
        rest = [k for k in self.keys if (lo is None or k > lo[0]) and k <= last[0]]
        return [rest[size - 1]] if len(rest) >= size else None

    def checkpoint(self, session, r):
        with self.lock:
            self.chunks[r.seq] = (r.lo, r.hi, False)
        return True

    def copy(self, session, r):
        if self.fail_at is not None and r.seq == self.fail_at:
            self.fail_at = None
            raise RuntimeError("the server went away")
        rows = [k for k in self.keys if (r.lo is None or k > r.lo[0]) and k <= r.hi[0]]
        with self.lock:
            self.copied += rows
            self.chunks[r.seq] = (r.lo, r.hi, True)
        return len(rows)


RECORD = type("Record", (), {"id": 1})()


def _walk(chunker, parallel=False, size=100, stop=None):
    return Walk(chunker, ChunkSizer(size, fixed=True), NoPace(), stop or threading.Event(),
                workers=3, parallel=parallel)


@pytest.mark.parametrize("parallel", [False, True])
def test_every_key_is_copied_exactly_once(parallel):
    chunker = ListChunker(range(1, 1001, 3))
    rows, _ = backfill(_walk(chunker, parallel, size=50), Store(), RECORD)
    assert rows == len(chunker.keys)
    assert sorted(chunker.copied) == chunker.keys
    assert all(done for _, _, done in chunker.chunks.values())


@pytest.mark.parametrize("parallel", [False, True])
def test_a_failed_range_is_copied_again_on_resume(parallel):
    chunker, store = ListChunker(range(1000), fail_at=4), Store()
    with pytest.raises(RuntimeError, match="went away"):
        backfill(_walk(chunker, parallel), store, RECORD)
    backfill(_walk(chunker, parallel), store, RECORD)  # the next run resumes
    assert sorted(set(chunker.copied)) == chunker.keys
    # Nothing copied twice except the ranges that were under way when it failed.
    assert len(chunker.copied) - len(chunker.keys) <= 3 * 100


def test_the_extent_is_read_once_so_rows_added_later_are_left_to_capture():
    chunker, store = ListChunker(range(100)), Store()
    backfill(_walk(chunker), store, RECORD)
    assert store.detail["max_key"] == [99] and store.total == 100
    chunker.keys += list(range(100, 200))  # inserted after the copy began: captured
    chunker.copied.clear()
    backfill(_walk(chunker), store, RECORD)
    assert chunker.copied == []


def test_an_empty_table_copies_nothing_and_stop_ends_the_walk():
    assert backfill(_walk(ListChunker([])), Store(), RECORD) == (0, 0.0)
    stop = threading.Event()
    stop.set()
    chunker = ListChunker(range(1000))
    backfill(_walk(chunker, stop=stop), Store(), RECORD)
    assert chunker.copied == []


def test_the_rate_note_only_when_the_limit_never_held_the_copy_back():
    assert rate_note(10_000, 5_000, 1.0, waited=0.0) is not None
    assert rate_note(10_000, 9_500, 1.0, waited=0.0) is None
    assert rate_note(10_000, 5_000, 1.0, waited=0.5) is None
    assert rate_note(None, 5_000, 1.0, waited=0.0) is None
