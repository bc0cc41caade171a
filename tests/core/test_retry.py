"""The one retry policy: exponential, capped, jittered."""

from __future__ import annotations

from bluegreen.core.retry import Backoff


def test_delays_double_up_to_the_cap():
    backoff = Backoff(base=0.1, cap=1.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_jitter_stays_within_its_band():
    backoff = Backoff(base=1.0, cap=10.0, jitter=0.5)
    assert backoff.delay(1, rng=lambda: 0.0) == 0.5
    assert backoff.delay(1, rng=lambda: 1.0) == 1.5
    assert len(list(backoff.delays(4))) == 4
