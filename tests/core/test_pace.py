"""The token bucket and the chunk sizer: pure, no database."""

from __future__ import annotations

import threading
import time

from bluegreen.core.pace import ChunkSizer, TokenBucket


def test_the_bucket_holds_the_rate_over_many_takes():
    bucket, stop = TokenBucket(2000), threading.Event()
    started = time.monotonic()
    for _ in range(10):
        bucket.take(200, stop)
    # 2,000 rows at 2,000 rows/s, starting empty: about one second, never a burst.
    assert 0.85 <= time.monotonic() - started <= 1.6
    assert bucket.waited > 0.5


def test_settle_returns_unused_tokens_and_charges_overruns():
    bucket = TokenBucket(1000)
    bucket.tokens, bucket.updated = 500.0, time.monotonic()
    bucket.settle(400, 100)  # reserved 400, used 100: 300 back (capped at the capacity)
    assert 790 <= bucket.tokens <= 1000
    bucket.settle(100, 600)  # used 500 more than reserved
    assert bucket.tokens <= 500


def test_no_rate_means_no_wait_and_stop_ends_a_wait():
    stop = threading.Event()
    TokenBucket(None).take(10**9, stop)  # returns at once
    slow = TokenBucket(1)
    stop.set()
    started = time.monotonic()
    slow.take(1000, stop)
    assert time.monotonic() - started < 0.2


def test_the_sizer_moves_toward_the_target_time_at_most_doubling():
    sizer = ChunkSizer(1000, target_seconds=0.5)
    sizer.observe(1000, 0.05)  # ten times too fast: ideal 10,000, but at most double
    assert sizer.size == 2000
    for _ in range(20):
        sizer.observe(sizer.size, sizer.size / 20_000)  # 20,000 rows/s
    assert 9000 <= sizer.size <= 11000  # about half a second of rows
    sizer.observe(sizer.size, 10.0)  # a slow chunk: at most halve
    assert 4500 <= sizer.size <= 5500


def test_a_fixed_size_never_moves_and_bounds_hold():
    fixed = ChunkSizer(777, fixed=True)
    fixed.observe(777, 100.0)
    assert fixed.size == 777
    bounded = ChunkSizer(10**9, high=50_000)
    assert bounded.size == 50_000
    bounded.observe(50_000, 1000.0)
    bounded.observe(25_000, 1000.0)
    assert bounded.size >= bounded.low
