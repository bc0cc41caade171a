"""Advisory locks with a described holder: one bluegreen worker per migration (and one
``apply`` per database, for whoever needs that).

The lock is PostgreSQL's session-level advisory lock, so a holder that dies (kill -9, a lost
connection) releases it with its session. Who took it is written to ``bluegreen.locks``, so a
second run can say which process holds it, on which host and since when.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

from bluegreen.errors import LockHeld


@dataclass
class LockHolder:
    """Who holds a lock: the bluegreen process (pid, host) and its database session."""

    pid: int | None
    host: str | None
    since: datetime | None
    backend_pid: int | None

    def describe(self) -> str:
        who = (f"pid {self.pid} on {self.host}" if self.pid is not None
               else f"the database session with backend pid {self.backend_pid}")
        when = f" since {self.since:%Y-%m-%d %H:%M:%S %Z}".rstrip() if self.since else ""
        return f"{who}{when}"



def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(f"bluegreen:{name}".encode()).digest()[:8], "big",
                          signed=True)


def try_lock(conn: psycopg.Connection, name: str) -> LockHolder | None:
    """Take the session-level lock ``name`` on ``conn`` (autocommit). Returns None when
    taken; otherwise who holds it."""
    key = lock_key(name)
    if conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
        conn.execute(
            "INSERT INTO bluegreen.locks (name, pid, host, backend_pid, since) VALUES "
            "(%s, %s, %s, pg_backend_pid(), now()) ON CONFLICT (name) DO UPDATE SET "
            "pid = EXCLUDED.pid, host = EXCLUDED.host, backend_pid = EXCLUDED.backend_pid, "
            "since = EXCLUDED.since", (name, os.getpid(), socket.gethostname()))
        return None
    return holder(conn, name)


def holder(conn: psycopg.Connection, name: str) -> LockHolder:
    """The holder of lock ``name``: the session pg_locks names, described by the row it
    wrote when it took the lock (or by pg_stat_activity if it has not written it yet)."""
    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "SELECT l.pid, a.backend_start FROM pg_locks l LEFT JOIN pg_stat_activity a ON "
        "a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND "
        "l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
        "l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid",
        (key >> 32, key & 0xFFFFFFFF)).fetchone()
    backend_pid, backend_start = row if row else (None, None)
    recorded = conn.execute("SELECT pid, host, since, backend_pid FROM bluegreen.locks WHERE "
                            "name = %s", (name,)).fetchone()
    if recorded and (backend_pid is None or recorded[3] == backend_pid):
        return LockHolder(*recorded)
    return LockHolder(None, None, backend_start, backend_pid)


def release(conn: psycopg.Connection, name: str) -> None:
    """Give the lock back (a closed session gives it back by itself)."""
    if conn.closed or conn.broken:
        return
    try:
        conn.execute("DELETE FROM bluegreen.locks WHERE name = %s AND backend_pid = "
                     "pg_backend_pid()", (name,))
        conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))
    except psycopg.Error:
        pass  # the session is going away, and the lock with it


@contextmanager
def held(conn: psycopg.Connection, name: str, what: str, hint: str) -> Iterator[None]:
    """Hold lock ``name`` for the block, or raise LockHeld saying who has it."""
    other = try_lock(conn, name)
    if other is not None:
        raise LockHeld(what, other.describe(), hint)
    try:
        yield
    finally:
        release(conn, name)
