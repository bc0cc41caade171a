"""Shared by the benchmarks: a scratch database, a table of N rows, a latency-probing writer.

Benchmarks print figures; they are not timed tests. The machine is shared and noisy, so each
figure is a median over repetitions, and bluegreen is reported as a ratio to the floor (what
the server alone does) measured in the same repetition.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import threading
import time

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("BLUEGREEN_BENCH_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "bluegreen_bench"


def bench_url() -> str:
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    return (f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
            f"{info.get('port', '5432')}/{BENCH_DB}")


def fresh_database() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(BENCH_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    return bench_url()


def make_table(conn: psycopg.Connection, name: str, rows: int) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    conn.execute(sql.SQL(
        "CREATE TABLE {} (id bigint PRIMARY KEY, account integer NOT NULL, "
        "email text NOT NULL, amount integer, created timestamptz NOT NULL DEFAULT now())"
    ).format(sql.Identifier(name)))
    conn.execute(sql.SQL(
        "INSERT INTO {} SELECT g, g %% 10000, 'user' || g || '@example.com', g %% 1000, "
        "now() - make_interval(secs => g) FROM generate_series(1, %s) g").format(
        sql.Identifier(name)), (rows,))
    conn.execute(sql.SQL("CREATE INDEX {} ON {} (account)").format(
        sql.Identifier(f"{name}_account_idx"), sql.Identifier(name)))
    conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(name)))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LatencyProbe(threading.Thread):
    """One app session doing single-row writes (update, insert, delete) back to back and
    recording each statement's latency in milliseconds."""

    _count = 0

    def __init__(self, url: str, table: str, max_id: int) -> None:
        super().__init__(daemon=True)
        LatencyProbe._count += 1
        self.index = LatencyProbe._count
        self.url, self.table, self.max_id = url, table, max_id
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import random

        rng = random.Random(self.index)
        t = sql.Identifier(self.table)
        update = sql.SQL("UPDATE {} SET amount = amount + 1 WHERE id = %s").format(t)
        insert = sql.SQL("INSERT INTO {} (id, account, email, amount) VALUES "
                         "(%s, 1, 'probe', 1)").format(t)
        delete = sql.SQL("DELETE FROM {} WHERE id = %s").format(t)
        next_id = 50_000_000 + self.index * 10_000_000
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._halt.is_set():
                roll = rng.random()
                started = time.perf_counter()
                try:
                    if roll < 0.7:
                        conn.execute(update, (rng.randrange(1, self.max_id),))
                    elif roll < 0.9:
                        next_id += 1
                        conn.execute(insert, (next_id,))
                    else:
                        conn.execute(delete, (next_id,))
                except psycopg.Error as error:
                    self.errors.append(str(error))
                self.latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.001)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def summary(self) -> str:
        return (f"p50 {percentile(self.latencies, 0.5):6.2f} ms  p99 "
                f"{percentile(self.latencies, 0.99):6.2f} ms  ({len(self.latencies)} writes)")


def floor_seconds(conn: psycopg.Connection) -> float:
    """The same copy done by the server alone, in one go."""
    conn.execute("DROP TABLE IF EXISTS t_floor")
    started = time.perf_counter()
    conn.execute("CREATE TABLE t_floor (LIKE t INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    conn.execute("ALTER TABLE t_floor ALTER COLUMN amount TYPE bigint")
    conn.execute("INSERT INTO t_floor SELECT id, account, email, amount::bigint, created FROM t")
    conn.execute("ALTER TABLE t_floor ADD PRIMARY KEY (id)")
    conn.execute("CREATE INDEX t_floor_account_idx ON t_floor (account)")
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE t_floor")
    return seconds


def pg_repack_seconds(url: str, conn: psycopg.Connection, table: str) -> float | None:
    """pg_repack of ``table`` (a plain rebuild), or None where it is not installed."""
    if shutil.which("pg_repack") is None:
        return None
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_repack")
    except psycopg.Error:
        return None
    started = time.perf_counter()
    done = subprocess.run(["pg_repack", "--no-order", "-t", table, "-d", url.rsplit("/", 1)[1],
                           "-h", "127.0.0.1", "-U", "postgres"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  pg_repack failed: {done.stderr.strip()[:200]}")
        return None
    return time.perf_counter() - started
