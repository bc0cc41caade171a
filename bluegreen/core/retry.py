"""One retry policy: exponential backoff with jitter, capped.

Used wherever bluegreen gives way to the app instead of queueing it: DDL under
``lock_timeout`` that timed out is tried again after a pause that grows, so a busy table
delays the migration rather than the app.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays of ``base * 2**n`` seconds, at most ``cap``, each scaled by a random factor in
    [1 - jitter, 1 + jitter] so that retries of several sessions do not line up."""

    base: float = 0.1
    cap: float = 10.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The pause after failed attempt number ``attempt`` (1 for the first failure)."""
        raw = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return raw * (1 - self.jitter + 2 * self.jitter * rng())

    def delays(self, retries: int) -> Iterator[float]:
        for attempt in range(1, retries + 1):
            yield self.delay(attempt)


DEFAULT_BACKOFF = Backoff()
