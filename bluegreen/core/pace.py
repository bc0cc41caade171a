"""Pace: how fast work may go. A token bucket holds the rate (rows per second); a sizer
adapts the chunk size to a target time per chunk. Pure: no database, no driver."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class ThrottleSettings:
    max_rows_per_second: float | None = None
    max_replication_lag: float | None = None  # seconds
    max_active_sessions: int | None = None
    throttle_query: str | None = None
    check_interval: float = 0.5
    query_timeout: float = 2.0  # seconds the throttle query may take


class TokenBucket:
    """At most ``rate`` rows per second on average.

    A chunk reserves the rows it plans to copy before it runs (waiting until the bucket holds
    them, or holds a full bucket for a chunk bigger than that) and settles the difference
    once its real row count is known, so the long-run rate is the asked one whatever the
    chunk sizes. The bucket starts empty (no burst at the start of a copy) and holds at most
    ``burst_seconds`` of rows (the burst after a pause)."""

    def __init__(self, rate: float | None, burst_seconds: float = 1.0) -> None:
        self.rate = rate
        self.capacity = (rate or 0.0) * burst_seconds
        self.tokens = 0.0
        self.updated = time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for tokens: zero means the rate was not
        # what held the copy back

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * (self.rate or 0))
        self.updated = now

    def take(self, rows: int, stop: threading.Event) -> None:
        """Reserve ``rows`` (blocking until the bucket holds them, or ``stop``)."""
        if not self.rate or rows <= 0:
            return
        need = min(rows, self.capacity)
        while not stop.is_set():
            with self.lock:
                self._refill()
                if self.tokens >= need:
                    self.tokens -= rows
                    return
                wait = (need - self.tokens) / self.rate
            self.waited += min(wait, 0.1)
            stop.wait(min(wait, 0.1))

    def settle(self, reserved: int, used: int) -> None:
        """A chunk that reserved ``reserved`` rows copied ``used``: return or charge the
        difference."""
        if not self.rate:
            return
        with self.lock:
            self._refill()
            self.tokens = min(self.capacity, self.tokens + reserved - used)


class ChunkSizer:
    """Adapts the chunk size so that a chunk takes about ``target_seconds``."""

    def __init__(self, initial: int, target_seconds: float = 0.5, fixed: bool = False,
                 low: int = 100, high: int = 200_000) -> None:
        self.size = max(low, min(high, initial)) if not fixed else initial
        self.target = target_seconds
        self.fixed = fixed
        self.low, self.high = low, high
        self.lock = threading.Lock()

    def observe(self, rows: int, seconds: float) -> None:
        if self.fixed or rows <= 0 or seconds <= 0:
            return
        with self.lock:
            ideal = rows * self.target / seconds
            # Move halfway, and at most double or halve per observation.
            proposed = (self.size + ideal) / 2
            self.size = int(max(self.low, min(self.high, self.size * 2, max(self.size / 2,
                                                                                proposed))))
