"""How long cutover and rollback block writes, under concurrent load.

    .venv/bin/python bench/cutover_bench.py [--rows 200000] [--runs 20] [--writers 2]

Copies a table once, then switches it 20 times each way while writer sessions keep writing.
Prints p50 / p99 of the time the switch held its locks (lock granted to commit, measured by
bluegreen), and the writers' p50 / p99 / max write latency over the whole run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LatencyProbe, fresh_database, make_table, percentile  # noqa: E402
from bluegreen import commands  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--writers", type=int, default=2)
    args = parser.parse_args()

    url = fresh_database()
    commands.init(url)
    with psycopg.connect(url, autocommit=True) as conn:
        make_table(conn, "t", args.rows)
    commands.copy(url, "t", "ALTER TABLE t ADD COLUMN note text")
    probes = [LatencyProbe(url, "t", args.rows) for _ in range(args.writers)]
    for probe in probes:
        probe.start()
    time.sleep(0.5)
    cutovers, rollbacks, attempts = [], [], 0
    for _ in range(args.runs):
        result = commands.cutover(url, ["t"])
        cutovers.append(result.lock_ms)
        attempts += result.attempts
        time.sleep(0.2)
        result = commands.rollback(url, ["t"])
        rollbacks.append(result.lock_ms)
        attempts += result.attempts
        time.sleep(0.2)
    for probe in probes:
        probe.stop()
    latencies = [x for p in probes for x in p.latencies]
    errors = sum(len(p.errors) for p in probes)
    print(f"\n{args.runs} cutovers and {args.runs} rollbacks of a {args.rows:,}-row table, "
          f"{args.writers} writers running ({attempts} lock attempts in all)")
    print(f"  writes blocked at cutover   p50 {percentile(cutovers, 0.5):7.1f} ms   "
          f"p99 {percentile(cutovers, 0.99):7.1f} ms")
    print(f"  writes blocked at rollback  p50 {percentile(rollbacks, 0.5):7.1f} ms   "
          f"p99 {percentile(rollbacks, 0.99):7.1f} ms")
    print(f"  writer latency over the run p50 {percentile(latencies, 0.5):7.2f} ms   "
          f"p99 {percentile(latencies, 0.99):7.2f} ms   max {max(latencies):7.1f} ms   "
          f"({len(latencies)} writes, {errors} errors)")
    for error in sorted({e.splitlines()[0] for p in probes for e in p.errors})[:5]:
        print(f"  writer error: {error}")


if __name__ == "__main__":
    main()
