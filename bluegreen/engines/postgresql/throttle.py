"""The throttle: signals in, a decision out. It decides in a background thread; the copy
loop only asks "may I?" before each unit of work (as gh-ost's throttler does).

The signals: ``bluegreen pause`` (delivered at once by NOTIFY, polled as a fallback), replica
replay lag, active sessions, and the user's throttle query. A watch callback lets the copy
learn, on the same poll, that its migration was aborted or its table replaced: that is fatal,
and stops the copy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from bluegreen.errors import BadOption, BluegreenError

# Every bluegreen command that changes what a running copy should do (pause, resume, abort,
# cutover) notifies this channel; the copy's throttle listens on it.
CONTROL_CHANNEL = "bluegreen_control"


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


def check_throttle_query(conn: psycopg.Connection, query: str, timeout: float = 2.0) -> None:
    """Refuse a throttle query that is not one SELECT or that fails, before the copy
    creates anything."""
    import pglast

    try:
        statements = pglast.parse_sql(query)
    except pglast.parser.ParseError as error:
        raise BadOption(f"--throttle-query does not parse: {error.args[0]}; give one SELECT "
                        "that returns true while the copy should wait") from None
    if len(statements) != 1 or type(statements[0].stmt).__name__ != "SelectStmt" or \
            getattr(statements[0].stmt, "intoClause", None) is not None:
        raise BadOption("--throttle-query must be one SELECT (it runs read-only, every "
                        "half second); e.g. --throttle-query \"SELECT count(*) > 50 FROM "
                        "pg_stat_activity\"")
    try:
        run_throttle_query(conn, query, timeout)
    except psycopg.Error as error:
        raise BadOption(f"--throttle-query fails: {str(error).strip().splitlines()[0]}; "
                        f"fix it (it runs in a read-only transaction, for at most "
                        f"{timeout:g}s)") from None


def run_throttle_query(conn: psycopg.Connection, query: str, timeout: float) -> bool:
    """The user's query, in a read-only transaction under a statement timeout, always rolled
    back: it can read anything and change nothing."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
        row = conn.execute(query).fetchone()
    return bool(row and row[0])


def check_replication_access(conn: psycopg.Connection) -> None:
    """Replica lag is read from pg_stat_replication, whose positions are NULL for a role
    without pg_read_all_stats: refuse rather than see no lag."""
    allowed = conn.execute("SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')"
                           ).fetchone()[0]
    if not allowed:
        user = conn.execute("SELECT current_user").fetchone()[0]
        raise BadOption(f"--max-replication-lag needs to read replica positions, which role "
                        f"{user} cannot: GRANT pg_monitor TO {user} (or pg_read_all_stats), "
                        "or leave the option out")


def _lsn(text: str | None) -> int | None:
    if not text:
        return None
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class ReplicaLag:
    """Replay lag in seconds, as the worst replica shows it.

    pg_stat_replication's replay_lag is only measured when replay moves, so a replica whose
    replay has stalled keeps showing the last small value. The primary's own WAL position is
    sampled on every poll; a replica that has not replayed WAL written at time t lags by at
    least now - t, and that keeps growing while replay is stalled."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def read(self, conn: psycopg.Connection) -> tuple[float, int]:
        """(lag in seconds, replicas seen)."""
        current, oldest_replay, reported, replicas = conn.execute(
            "SELECT pg_current_wal_lsn()::text, min(replay_lsn)::text, "
            "COALESCE(max(EXTRACT(EPOCH FROM replay_lag)), 0), count(*) "
            "FROM pg_stat_replication").fetchone()
        now = time.monotonic()
        current_lsn, replay_lsn = _lsn(current), _lsn(oldest_replay)
        if current_lsn is not None and (not self.samples or self.samples[-1][1] != current_lsn):
            self.samples.append((now, current_lsn))
        lag = float(reported or 0)
        if replay_lsn is not None:
            while len(self.samples) > 1 and self.samples[0][1] <= replay_lsn:
                self.samples.popleft()
            if self.samples and self.samples[0][1] > replay_lsn:
                lag = max(lag, now - self.samples[0][0])
        return lag, int(replicas)


class Throttle:
    """Polls the signals on its own connection; ``reason`` is None while work may go on.
    ``fatal`` is set (and ``stop`` with it) when the watch callback says the copy must
    end."""

    def __init__(self, url: str, settings: ThrottleSettings,
                 watch: Callable[[psycopg.Connection], str | None],
                 stop: threading.Event | None = None) -> None:
        self.url = url
        self.settings = settings
        self.watch = watch
        self.copy_stop = stop or threading.Event()
        self.bucket = TokenBucket(settings.max_rows_per_second)
        self.lag = ReplicaLag()
        self.reason: str | None = None
        self.fatal: BluegreenError | None = None
        self.stop_event = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bluegreen-throttle",
                                        daemon=True)

    def start(self) -> Throttle:
        with psycopg.connect(self.url, autocommit=True) as conn:
            self._decide_and_publish(conn)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(timeout=5)

    def decide(self, conn: psycopg.Connection) -> str | None:
        s = self.settings
        paused = self.watch(conn)
        if paused:
            return paused
        if s.max_replication_lag is not None:
            lag, _ = self.lag.read(conn)
            if lag > s.max_replication_lag:
                return f"replication lag {lag:.1f}s > {s.max_replication_lag:g}s"
        if s.max_active_sessions is not None:
            active = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                "backend_type = 'client backend' AND pid <> pg_backend_pid() AND "
                "application_name NOT LIKE 'bluegreen%%'").fetchone()[0]
            if active > s.max_active_sessions:
                return f"{active} active sessions > {s.max_active_sessions}"
        if s.throttle_query and run_throttle_query(conn, s.throttle_query, s.query_timeout):
            return "throttle query returned true"
        return None

    def _decide_and_publish(self, conn: psycopg.Connection) -> None:
        try:
            reason = self.decide(conn)
        except BluegreenError as error:
            with self._changed:
                self.fatal = error
                self.reason = f"stopping: {error.message}"
                self._changed.notify_all()
            self.copy_stop.set()
            self.stop_event.set()
            return
        with self._changed:
            self.reason = reason
            self._changed.notify_all()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True,
                                     application_name="bluegreen-throttle") as conn:
                    conn.execute(f"LISTEN {CONTROL_CHANNEL}")
                    while not self.stop_event.is_set():
                        self._decide_and_publish(conn)
                        # A NOTIFY (pause, resume, abort, cutover) wakes the poll at once.
                        for _ in conn.notifies(timeout=self.settings.check_interval,
                                               stop_after=1):
                            pass
            except psycopg.Error as error:
                # Cannot read the signals: hold the copy back rather than run blind.
                with self._changed:
                    self.reason = f"cannot read throttle signals: {error}".splitlines()[0]
                self.stop_event.wait(1.0)

    def wait(self, stop: threading.Event, rows: int = 0,
             on_wait: Callable[[str], None] | None = None) -> None:
        """Block while throttled (or until ``stop``), then reserve ``rows`` tokens; settle
        the real count with ``settle`` once known."""
        while True:
            with self._changed:
                while self.reason is not None and not stop.is_set() and \
                        not self.stop_event.is_set():
                    if on_wait:
                        on_wait(self.reason)
                    self._changed.wait(timeout=0.5)
            if not rows or stop.is_set():
                return
            self.bucket.take(rows, stop)
            if self.reason is None or stop.is_set():
                return
            # Paused (or throttled) while waiting for tokens: give them back and wait again.
            self.bucket.settle(rows, 0)

    def settle(self, reserved: int, used: int) -> None:
        self.bucket.settle(reserved, used)


def notify_control(conn: psycopg.Connection) -> None:
    """Wake every running copy's throttle so it reads its state now."""
    conn.execute(f"NOTIFY {CONTROL_CHANNEL}")


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
