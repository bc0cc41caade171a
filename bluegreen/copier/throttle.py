"""The throttle: signals in, a decision out. It decides in a background thread; the copy
loop only asks "may I?" before each unit of work (as gh-ost's throttler does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg


@dataclass
class ThrottleSettings:
    max_rows_per_second: float | None = None
    max_replication_lag: float | None = None  # seconds
    max_active_sessions: int | None = None
    throttle_query: str | None = None
    check_interval: float = 0.5


class TokenBucket:
    """At most ``rate`` rows per second, with a burst of one second's worth."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.tokens = rate or 0.0
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self, rows: int, stop: threading.Event) -> None:
        if not self.rate:
            return
        while not stop.is_set():
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= min(rows, self.rate):
                    self.tokens -= rows
                    return
                wait = (min(rows, self.rate) - self.tokens) / self.rate
            stop.wait(min(wait, 0.5))


class Throttle:
    """Polls the signals on its own connection; ``reason`` is None while work may go on."""

    def __init__(self, url: str, settings: ThrottleSettings,
                 paused: Callable[[psycopg.Connection], bool]) -> None:
        self.url = url
        self.settings = settings
        self.paused = paused
        self.bucket = TokenBucket(settings.max_rows_per_second)
        self.reason: str | None = None
        self.stop_event = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bluegreen-throttle",
                                        daemon=True)

    def start(self) -> Throttle:
        with psycopg.connect(self.url, autocommit=True) as conn:
            self.reason = self.decide(conn)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout=5)

    def decide(self, conn: psycopg.Connection) -> str | None:
        s = self.settings
        if self.paused(conn):
            return "paused (bluegreen resume TABLE)"
        if s.max_replication_lag is not None:
            lag = conn.execute(
                "SELECT COALESCE(max(EXTRACT(EPOCH FROM replay_lag)), 0) "
                "FROM pg_stat_replication").fetchone()[0]
            if lag is not None and float(lag) > s.max_replication_lag:
                return f"replication lag {float(lag):.1f}s > {s.max_replication_lag}s"
        if s.max_active_sessions is not None:
            active = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                "backend_type = 'client backend' AND pid <> pg_backend_pid() AND "
                "application_name NOT LIKE 'bluegreen%%'").fetchone()[0]
            if active > s.max_active_sessions:
                return f"{active} active sessions > {s.max_active_sessions}"
        if s.throttle_query:
            row = conn.execute(s.throttle_query).fetchone()
            if row and row[0]:
                return "throttle query returned true"
        return None

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True,
                                     application_name="bluegreen-throttle") as conn:
                    while not self.stop_event.is_set():
                        reason = self.decide(conn)
                        with self._changed:
                            self.reason = reason
                            self._changed.notify_all()
                        self.stop_event.wait(self.settings.check_interval)
            except psycopg.Error as error:
                # Cannot read the signals: hold the copy back rather than run blind.
                with self._changed:
                    self.reason = f"cannot read throttle signals: {error}".splitlines()[0]
                self.stop_event.wait(1.0)

    def wait(self, stop: threading.Event, rows: int = 0,
             on_wait: Callable[[str], None] | None = None) -> None:
        """Block while throttled (or until ``stop``), then take ``rows`` tokens."""
        with self._changed:
            while self.reason is not None and not stop.is_set() and not self.stop_event.is_set():
                if on_wait:
                    on_wait(self.reason)
                self._changed.wait(timeout=0.5)
        if rows:
            self.bucket.take(rows, stop)


class ChunkSizer:
    """Adapts the chunk size so that a chunk takes about ``target_seconds``."""

    def __init__(self, initial: int, target_seconds: float = 0.5, fixed: bool = False,
                 low: int = 100, high: int = 200_000) -> None:
        self.size = initial
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
