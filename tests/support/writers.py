"""Writer threads that keep writing while bluegreen works, and remember what committed.

Each writer owns a disjoint set of ids, so "what the table should hold" is exactly the
writers' record of their own committed writes, whatever the interleaving.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable

import psycopg


class Pausable(threading.Thread):
    """A writer the test can bring to rest between checks (``hold``), then ``release``; its
    loop asks ``resting()`` each turn and skips the turn while held."""

    rest_timeout = 15.0

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.go, self.idle, self.done = threading.Event(), threading.Event(), threading.Event()
        self.go.set()

    def hold(self) -> bool:
        """Stop writing; whether the writer came to rest within ``rest_timeout``."""
        self.go.clear()
        return self.idle.wait(self.rest_timeout)

    def release(self) -> None:
        self.idle.clear()
        self.go.set()

    def stop(self) -> None:
        self.done.set()
        self.go.set()
        self.join(self.rest_timeout)

    def resting(self) -> bool:
        """In the loop: True while held (after saying so to ``hold``)."""
        if self.go.is_set():
            return False
        self.idle.set()
        self.go.wait(0.05)
        return True


class Writer(threading.Thread):
    """Runs ``write(conn, rng, committed)`` in a loop until stopped, each call in its own
    autocommit statement; ``committed`` maps id -> row (None once deleted) for rows the
    writer changed, updated only after a write commits."""

    def __init__(self, url: str, write: Callable, name: str, pause: float = 0.002,
                 prepare: bool = True) -> None:
        super().__init__(name=name, daemon=True)
        # psycopg prepares a statement on the server after 5 runs, as most drivers do.
        self.prepare = prepare
        self.url = url
        self.write = write
        self.pause = pause
        self.committed: dict[int, object] = {}
        self.errors: list[str] = []
        self.writes = 0
        self.rng = random.Random(hash(name) & 0xFFFF)
        self._stop_event = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._idle = threading.Event()

    def hold(self) -> None:
        """Finish the write in flight, then wait (so the table can be compared)."""
        self._running.clear()
        while self.is_alive() and not self._idle.wait(timeout=0.1):
            pass

    def release(self) -> None:
        self._idle.clear()
        self._running.set()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            if not self.prepare:
                conn.prepare_threshold = None
            while not self._stop_event.is_set():
                if not self._running.is_set():
                    self._idle.set()
                    self._running.wait(timeout=0.1)
                    continue
                try:
                    self.write(conn, self.rng, self.committed)
                    self.writes += 1
                except Exception as error:  # recorded: the test asserts there are none
                    self.errors.append(f"{type(error).__name__}: {error}")
                    if len(self.errors) > 50:
                        return
                time.sleep(self.pause)

    def stop(self) -> None:
        self._stop_event.set()
        self._running.set()
        self.join(timeout=30)


def id_source(start: int, step: int = 1000):
    """Ids for one writer: start, start+step, ... disjoint from other writers' sources."""
    return itertools.count(start, step)


def _execute_with_retries(conn: psycopg.Connection, sql: str, attempts: int = 50):
    """As bluegreen's `direct` strategy runs DDL: under a short lock_timeout, retried, so a
    migration step gives way to the app's transactions instead of queueing them behind it
    or winning a deadlock against them."""
    for attempt in range(attempts):
        try:
            return conn.execute(sql)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def run_steps(conn: psycopg.Connection, steps: list[dict], phases: set[str],
              values: dict[str, str] | None = None) -> list[str]:
    """Execute plan steps of the given phases on an autocommit connection, repeating a
    ``repeat`` step until it changes no row. Returns the SQL run."""
    conn.execute("SET lock_timeout = '100ms'")
    ran = []
    for step in steps:
        if step["phase"] not in phases or "sql" not in step:
            continue
        sql = step["sql"]
        for key, value in (values or {}).items():
            sql = sql.replace(key, value)
        if step.get("repeat"):
            while _execute_with_retries(conn, sql).rowcount:
                pass
        else:
            _execute_with_retries(conn, sql)
        ran.append(sql)
    return ran
