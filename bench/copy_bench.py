"""bluegreen copy against the floor and pg_repack, and what capture costs the write path.

    .venv/bin/python bench/copy_bench.py [--rows 1000000] [--repeat 3]

Prints, on one table: rows/s of an unthrottled `bluegreen copy` beside the server-side floor
(CREATE TABLE + INSERT ... SELECT + index builds, the same work with nothing in between) and
pg_repack when it is installed (Debian: postgresql-15-repack); then a concurrent writer's
p50/p99 latency with no trigger, with the capture trigger, and during a throttled copy.
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

from bench.common import (  # noqa: E402
    LatencyProbe,
    floor_seconds,
    fresh_database,
    make_table,
    median,
    pg_repack_seconds,
)
from bluegreen import commands  # noqa: E402
from bluegreen.core.pace import ThrottleSettings  # noqa: E402
from bluegreen.engines.postgresql.copy import Copier  # noqa: E402
from bluegreen.errors import CopyCancelled  # noqa: E402

ALTER = "ALTER TABLE t ALTER COLUMN amount TYPE bigint"


def bluegreen_seconds(url: str, workers: int) -> float:
    started = time.perf_counter()
    result = commands.copy(url, "t", ALTER, CopyOptions(workers=workers))
    seconds = time.perf_counter() - started
    assert result.record.state == "synced"
    commands.abort(url, "t")
    return seconds


def _swallow(run) -> None:
    try:
        run()
    except CopyCancelled:
        pass


def latency(url: str, rows: int, seconds: float) -> dict[str, str]:
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        make_table(conn, "t", rows)
    probe = LatencyProbe(url, "t", rows)
    probe.start()
    time.sleep(seconds)
    probe.stop()
    out["no trigger"] = probe.summary()

    # Capture trigger installed, the copy held back: what capture alone costs each write.
    copier = Copier(url, "t", ALTER, CopyOptions(
        chunk_size=100, workers=1, throttle=ThrottleSettings(max_rows_per_second=1)))
    thread = threading.Thread(target=lambda: _swallow(copier.run), daemon=True)
    thread.start()
    while not commands.status(url) or commands.status(url)[0].record.state == "aborted":
        time.sleep(0.1)
    probe = LatencyProbe(url, "t", rows)
    probe.start()
    time.sleep(seconds)
    probe.stop()
    out["capture trigger"] = probe.summary()
    copier.cancel()
    thread.join(timeout=30)
    commands.abort(url, "t")

    probe = LatencyProbe(url, "t", rows)
    probe.start()
    time.sleep(0.5)
    commands.copy(url, "t", ALTER, CopyOptions(
        workers=1, throttle=ThrottleSettings(max_rows_per_second=rows / 8)))
    probe.stop()
    out[f"during a copy throttled to {rows // 8:,} rows/s"] = probe.summary()
    commands.abort(url, "t")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    args = parser.parse_args()

    url = fresh_database()
    commands.init(url)
    with psycopg.connect(url, autocommit=True) as conn:
        make_table(conn, "t", args.rows)
        floors, ours, repacks, ratios = [], [], [], []
        for _ in range(args.repeat):
            floor = floor_seconds(conn)
            mine = bluegreen_seconds(url, args.workers)
            repack = pg_repack_seconds(url, conn, "t")
            floors.append(floor)
            ours.append(mine)
            ratios.append(mine / floor)
            if repack is not None:
                repacks.append(repack)
    rows = args.rows
    print(f"\ncopy of {rows:,} rows (ALTER COLUMN amount TYPE bigint), median of {args.repeat}")
    print(f"  floor (CREATE + INSERT ... SELECT + indexes) {median(floors):7.2f} s  "
          f"{rows / median(floors):>12,.0f} rows/s")
    print(f"  bluegreen copy, {args.workers} workers, unthrottled   {median(ours):7.2f} s  "
          f"{rows / median(ours):>12,.0f} rows/s  ratio to floor {median(ratios):.2f}x "
          f"(per run: {', '.join(f'{r:.2f}' for r in ratios)})")
    if repacks:
        print(f"  pg_repack (no ALTER: a plain rebuild)        {median(repacks):7.2f} s  "
              f"{rows / median(repacks):>12,.0f} rows/s  ratio to floor "
              f"{median(repacks) / median(floors):.2f}x")
    else:
        print("  pg_repack                                    not installed "
              "(apt-get install postgresql-15-repack)")
    print(f"\nwriter latency, single-row writes, {args.latency_seconds:.0f} s each")
    for label, summary in latency(url, min(rows, 200_000), args.latency_seconds).items():
        print(f"  {label:<40} {summary}")


if __name__ == "__main__":
    main()
