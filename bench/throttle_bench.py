"""How well `copy --max-rows-per-second` keeps the asked rate, and how fast `pause` bites.

    .venv/bin/python bench/throttle_bench.py [--seconds 4] [--pauses 5]

For each asked rate (5,000, 20,000 and 200,000 rows/s) a table of rate x seconds rows is
copied; the backfill's real rate is measured from the copy's own progress reports (rows
copied between the first and the last report of the backfill) and printed beside the rate
the progress bar showed. Then a copy at 20,000 rows/s is paused several times: the pause
latency is the time from `bluegreen pause` returning to the last chunk committing.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import psycopg

from bluegreen.core.copy import CopyOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ADMIN_URL, make_table, median  # noqa: E402
from bluegreen import commands  # noqa: E402

# noqa: E402
from bluegreen.core.pace import ThrottleSettings  # noqa: E402

ALTER = "ALTER TABLE t ALTER COLUMN amount TYPE bigint"
BENCH_DB = "bluegreen_bench_throttle"  # its own: other benchmarks drop theirs with FORCE


def fresh_database() -> str:
    from psycopg import sql

    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(BENCH_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    info = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    return (f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
            f"{info.get('port', '5432')}/{BENCH_DB}")


def measure_rate(url: str, conn: psycopg.Connection, rate: int, seconds: float
                 ) -> tuple[float, float, list[str]]:
    """(real backfill rate, median rate the progress bar showed, warnings)."""
    make_table(conn, "t", int(rate * seconds))
    samples: list[tuple[float, int, float]] = []

    def progress(p) -> None:
        if p.phase == "backfill":
            samples.append((time.monotonic(), p.rows_copied, p.rows_per_second))

    result = commands.copy(url, "t", ALTER, CopyOptions(
        throttle=ThrottleSettings(max_rows_per_second=rate)), on_progress=progress)
    commands.abort(url, "t")
    moving = [s for s in samples if s[1] > 0]
    (t0, r0, _), (t1, r1, _) = moving[0], moving[-1]
    shown = median([s[2] for s in moving[2:]] or [s[2] for s in moving])
    return (r1 - r0) / (t1 - t0), shown, result.warnings


def measure_pauses(url: str, conn: psycopg.Connection, pauses: int) -> list[float]:
    """Seconds from `pause` returning to the last row copied before the copy stood still."""
    rate = 20_000
    make_table(conn, "t", rate * (pauses + 4))
    done: list = []
    copier = threading.Thread(target=lambda: done.append(commands.copy(url, "t", ALTER, CopyOptions(
        throttle=ThrottleSettings(max_rows_per_second=rate)))))
    copier.start()

    def copied() -> int:
        row = conn.execute("SELECT rows_copied FROM bluegreen.migrations WHERE table_name = 't' "
                           "AND state = 'copying'").fetchone()
        return row[0] if row else 0

    while copied() < rate:
        time.sleep(0.05)
    latencies = []
    for _ in range(pauses):
        commands.set_paused(url, "t", True)
        paused_at = time.monotonic()
        last, last_change = copied(), paused_at
        while time.monotonic() - last_change < 1.5:  # still for 1.5 s: it has stopped
            now = copied()
            if now != last:
                last, last_change = now, time.monotonic()
            time.sleep(0.005)
        latencies.append(max(0.0, last_change - paused_at))
        commands.set_paused(url, "t", False)
        time.sleep(0.7)
    copier.join(timeout=120)
    commands.abort(url, "t")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="Seconds of backfill at each rate.")
    parser.add_argument("--pauses", type=int, default=5)
    args = parser.parse_args()
    url = fresh_database()
    commands.init(url)
    with psycopg.connect(url, autocommit=True) as conn:
        print("| asked rows/s | backfill rows/s | ratio | progress bar showed |")
        print("| --- | --- | --- | --- |")
        for rate in (5_000, 20_000, 200_000):
            real, shown, warnings = measure_rate(url, conn, rate, args.seconds)
            print(f"| {rate:,} | {real:,.0f} | {real / rate:.3f} | {shown:,.0f} |")
            for warning in warnings:
                if "asked for" in warning:
                    print(f"|   | ({warning}) | | |")
        latencies = measure_pauses(url, conn, args.pauses)
        print(f"\npause latency over {len(latencies)} pauses at 20,000 rows/s: median "
              f"{median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
