"""bluegreen apply of a rewrite against the floor and against the plain ALTER it replaces.

    .venv/bin/python bench/apply_bench.py [--rows 1000000] [--repeat 3]

The migration is one SQL file, `ALTER TABLE t ALTER COLUMN amount TYPE bigint` (a rewrite, so
apply runs it as a shadow copy, verify and cutover in expand, and drops the old table in
contract). Prints, per repetition and as medians:

- the floor: what the server alone does for the same result (CREATE TABLE + INSERT ... SELECT
  + index builds, nothing in between);
- `bluegreen apply --phase expand` then `--phase contract`, run as a user runs them (two
  processes, start-up included), as a ratio to the floor;
- the plain `ALTER TABLE ... TYPE bigint` the migration would run on its own, which is about
  as fast but blocks every write for its whole length;
- a concurrent writer's worst latency during each (what "blocks writes" means in practice).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LatencyProbe, fresh_database, make_table, median  # noqa: E402
from bench.copy_bench import floor_seconds  # noqa: E402
from bluegreen import commands  # noqa: E402

ALTER = "ALTER TABLE t ALTER COLUMN amount TYPE bigint;\n"


def apply_seconds(url: str, migration: Path) -> float:
    started = time.perf_counter()
    for phase in ("expand", "contract"):
        subprocess.run([sys.executable, "-m", "bluegreen", "apply", str(migration), "--phase",
                        phase, "--database-url", url], check=True, capture_output=True)
    return time.perf_counter() - started


def with_probe(url: str, rows: int, run) -> tuple[float, float, int]:
    """(seconds run() took, the writer's worst latency in ms, writer errors)."""
    probe = LatencyProbe(url, "t", rows)
    probe.start()
    time.sleep(0.3)
    seconds = run()
    probe.stop()
    return seconds, max(probe.latencies, default=0.0), len(probe.errors)


def reset(url: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM bluegreen.apply_revisions")
        make_table(conn, "t", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = fresh_database()
    commands.init(url)
    migration = Path(tempfile.mkdtemp()) / "widen_amount.sql"
    migration.write_text(ALTER)
    floors, applies, alters, ratios, alter_ratios = [], [], [], [], []
    apply_worst, alter_worst, errors = [], [], 0
    for _ in range(args.repeat):
        reset(url, args.rows)
        with psycopg.connect(url, autocommit=True) as conn:
            floor = floor_seconds(conn)
        seconds, worst, failed = with_probe(url, args.rows,
                                            lambda: apply_seconds(url, migration))
        errors += failed
        reset(url, args.rows)

        def plain_alter() -> float:
            with psycopg.connect(url, autocommit=True) as conn:
                started = time.perf_counter()
                conn.execute(ALTER)
                return time.perf_counter() - started

        alter, alter_max, failed = with_probe(url, args.rows, plain_alter)
        errors += failed
        floors.append(floor)
        applies.append(seconds)
        alters.append(alter)
        ratios.append(seconds / floor)
        alter_ratios.append(alter / floor)
        apply_worst.append(worst)
        alter_worst.append(alter_max)
    rows = args.rows
    print(f"\napply of a rewrite on {rows:,} rows (ALTER COLUMN amount TYPE bigint, one "
          f"secondary index), median of {args.repeat}")
    print(f"  floor (CREATE + INSERT ... SELECT + indexes)      {median(floors):7.2f} s  1.00x")
    print(f"  bluegreen apply expand + contract (two processes) {median(applies):7.2f} s  "
          f"{median(ratios):.2f}x  (per run: {', '.join(f'{r:.2f}' for r in ratios)})  "
          f"writer's worst latency {median(apply_worst):,.0f} ms")
    print(f"  plain ALTER TABLE (blocks writes throughout)      {median(alters):7.2f} s  "
          f"{median(alter_ratios):.2f}x  writer's worst latency {median(alter_worst):,.0f} ms")
    print(f"  writer errors: {errors}")


if __name__ == "__main__":
    main()
