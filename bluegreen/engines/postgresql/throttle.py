"""PostgreSQL's throttle signals (the decision loop is bluegreen.core.throttle).

The signals: ``bluegreen pause`` (delivered at once by NOTIFY, polled as a fallback), replica
replay lag, active sessions, and the user's throttle query. A watch callback lets the copy
learn, on the same poll, that its migration was aborted or its table replaced: that is fatal,
and stops the copy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from bluegreen.core.pace import ThrottleSettings
from bluegreen.core.throttle import Throttle
from bluegreen.errors import BadOption

# Every bluegreen command that changes what a running copy should do (pause, resume, abort,
# cutover) notifies this channel; the copy's throttle listens on it.
CONTROL_CHANNEL = "bluegreen_control"


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
        current, oldest_replay, reported, replicas = conn.execute(  # type: ignore[misc]
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


def notify_control(conn: psycopg.Connection) -> None:
    """Wake every running copy's throttle so it reads its state now."""
    conn.execute(f"NOTIFY {CONTROL_CHANNEL}")


class PgSignals:
    """The signals of one piece of work, on a connection of the throttle's own that LISTENs
    for bluegreen's control channel."""

    transient: tuple[type[BaseException], ...] = (psycopg.Error,)

    def __init__(self, url: str, settings: ThrottleSettings,
                 watch: Callable[[psycopg.Connection], str | None]) -> None:
        self.url = url
        self.settings = settings
        self.watch = watch
        self.lag = ReplicaLag()

    @contextmanager
    def open(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.url, autocommit=True,
                             application_name="bluegreen-throttle") as conn:
            conn.execute(f"LISTEN {CONTROL_CHANNEL}")
            yield conn

    def reason(self, conn: psycopg.Connection) -> str | None:
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

    def wait(self, conn: psycopg.Connection, seconds: float) -> bool:
        # A NOTIFY (pause, resume, abort, cutover) wakes the poll at once.
        return any(True for _ in conn.notifies(timeout=seconds, stop_after=1))


def throttle(url: str, settings: ThrottleSettings,
             watch: Callable[[psycopg.Connection], str | None],
             stop: threading.Event | None = None) -> Throttle:
    """The throttle of one piece of work on PostgreSQL (not started)."""
    return Throttle(settings, PgSignals(url, settings, watch), stop)
