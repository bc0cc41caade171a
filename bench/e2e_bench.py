"""bluegreen end to end against the floor and pg_repack, and what a migration costs pgbench.

    .venv/bin/python bench/e2e_bench.py [--rows 1000000 5000000] [--repeat 3]
                                        [--pgbench-seconds 15] [--skip-pgbench]

Part 1, at each row count, in one run, each repetition on a freshly built table:

* the floor: CREATE TABLE + INSERT ... SELECT + index builds, the server alone;
* pg_repack of the same table, where installed (``bench/setup.sh`` installs it);
* bluegreen end to end as a user runs it: ``bluegreen init``, ``bluegreen copy t --alter
  ...`` and ``bluegreen cutover t -y``, three processes, start-up included; and ``bluegreen
  init`` + ``bluegreen copy t --alter ... --cutover``, two processes.

Part 2: pgbench (scale 10, 4 clients, 2 threads, the TPC-B-like script) with no migration,
during an unthrottled copy of ``pgbench_accounts`` (the table it writes to), during a copy at
25,000 rows/s, with only the capture trigger installed, and while ``copy --follow`` keeps a
synced shadow up to date. TPS is read from pgbench's per-second progress, only over the
seconds the condition held, and reported as a share of a no-migration run made just before
that condition (a paired ratio: the machine's load drifts over minutes).

Figures are medians over ``--repeat`` repetitions; ratios, not absolute times, are what
compare across runs on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    floor_seconds,
    fresh_database,
    make_table,
    median,
    pg_repack_seconds,
)

ROOT = Path(__file__).resolve().parents[1]
BLUEGREEN = [str(ROOT / ".venv" / "bin" / "bluegreen")] if (
    ROOT / ".venv" / "bin" / "bluegreen").exists() else [sys.executable, "-m", "bluegreen"]
ALTER = "ALTER TABLE t ALTER COLUMN amount TYPE bigint"
ACCOUNTS_ALTER = "ALTER TABLE pgbench_accounts ALTER COLUMN abalance TYPE bigint"


def run_bluegreen(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BLUEGREEN_DATABASE_URL": url}
    done = subprocess.run([*BLUEGREEN, *args, "-q"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bluegreen {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip()[:400]}")
    return done


STEPS = (("init", ("init",)), ("copy", ("copy", "t", "--alter", ALTER)),
         ("cutover", ("cutover", "t", "-y")))
ONE_STEP = (("init", ("init",)), ("copy --cutover", ("copy", "t", "--alter", ALTER, "--cutover")))


def end_to_end(url: str, steps=STEPS) -> dict[str, float]:
    """The steps, each its own process, as a pipeline runs them: init + copy + cutover, or
    init + copy --cutover."""
    out: dict[str, float] = {}
    for step, args in steps:
        started = time.perf_counter()
        run_bluegreen(url, *args)
        out[step] = time.perf_counter() - started
    out["total"] = sum(out.values())
    run_bluegreen(url, "finish", "t", "-y")
    return out


def part_one(url: str, rows: int, repeat: int) -> None:
    floors, repacks, totals, steps, ones, one_steps = [], [], [], [], [], []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(repeat):
            make_table(conn, "t", rows)
            floors.append(floor_seconds(conn))
            repack = pg_repack_seconds(url, conn, "t")
            if repack is not None:
                repacks.append(repack)
            # pg_repack left a rewritten table; bluegreen gets a fresh one, analyzed.
            make_table(conn, "t", rows)
            timing = end_to_end(url)
            totals.append(timing["total"])
            steps.append(timing)
            make_table(conn, "t", rows)
            timing = end_to_end(url, ONE_STEP)
            ones.append(timing["total"])
            one_steps.append(timing)
    floor = median(floors)
    print(f"\n{rows:,} rows (ALTER COLUMN amount TYPE bigint), median of {repeat}")
    print(f"  floor (CREATE + INSERT ... SELECT + indexes)  {floor:7.2f} s   1.00x")
    if repacks:
        print(f"  pg_repack (a plain rebuild, no ALTER)          {median(repacks):7.2f} s  "
              f"{median(repacks) / floor:5.2f}x")
    else:
        print("  pg_repack                                      not installed (bench/setup.sh)")
    ratios = [t / f for t, f in zip(totals, floors, strict=True)]
    parts = ", ".join(f"{name} {median([s[name] for s in steps]):.2f} s"
                      for name in ("init", "copy", "cutover"))
    print(f"  bluegreen init + copy + cutover               {median(totals):7.2f} s  "
          f"{median(ratios):5.2f}x   ({parts}; per run: "
          f"{', '.join(f'{r:.2f}x' for r in ratios)})")
    ratios = [t / f for t, f in zip(ones, floors, strict=True)]
    parts = ", ".join(f"{name} {median([s[name] for s in one_steps]):.2f} s"
                      for name in ("init", "copy --cutover"))
    print(f"  bluegreen init + copy --cutover               {median(ones):7.2f} s  "
          f"{median(ratios):5.2f}x   ({parts}; per run: "
          f"{', '.join(f'{r:.2f}x' for r in ratios)})")
    if repacks:
        print(f"  bluegreen / pg_repack: three commands {median(totals) / median(repacks):5.2f}x"
              f", two commands {median(ones) / median(repacks):5.2f}x")


# ---- part 2: pgbench -------------------------------------------------------------------------

_PROGRESS = re.compile(r"progress: ([\d.]+) s, ([\d.]+) tps")


class Pgbench:
    """pgbench for ``seconds`` with per-second progress; ``tps(start, end)`` is the mean of
    the progress seconds that lie inside [start, end] (times from its start)."""

    def __init__(self, database: str, seconds: int) -> None:
        self.process = subprocess.Popen(
            ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-c", "4", "-j", "2", "-n",
             "-P", "1", "-T", str(seconds), database],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started = time.monotonic()
        self.points: list[tuple[float, float]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            match = _PROGRESS.search(line)
            if match:
                self.points.append((float(match[1]), float(match[2])))

    def now(self) -> float:
        return time.monotonic() - self.started

    def wait(self) -> None:
        self.process.wait()
        self._reader.join(timeout=5)

    def tps(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The median TPS of the progress seconds that lie inside [start, end]; of those
        that overlap it when none lies inside (an unthrottled copy lasts about 2 s)."""
        inside = [tps for at, tps in self.points if at - 1 >= start and at <= end]
        overlap = [tps for at, tps in self.points if at > start and at - 1 < end]
        return median(inside or overlap) if inside or overlap else float("nan")


def _state(url: str) -> str | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT state FROM bluegreen.migrations WHERE table_name = "
                           "'pgbench_accounts' ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _background_copy(url: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "BLUEGREEN_DATABASE_URL": url}
    return subprocess.Popen([*BLUEGREEN, "copy", "pgbench_accounts", "--alter", ACCOUNTS_ALTER,
                             "-q", *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _stop(url: str, process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if _state(url) not in (None, "aborted", "finished"):
        run_bluegreen(url, "abort", "pgbench_accounts", "-y")


def _during(url: str, database: str, seconds: int, *extra: str,
            until_synced: bool = False) -> float:
    """pgbench TPS over the seconds a copy with ``extra`` options was running (and, with
    ``until_synced``, only once the copy reached synced: ``--follow``)."""
    if until_synced:
        copy = _background_copy(url, "--follow", *extra)
        while _state(url) != "synced":
            if copy.poll() is not None:
                raise SystemExit(f"copy --follow ended: {copy.stderr.read()[:400]}")
            time.sleep(0.2)
        bench = Pgbench(database, seconds)
        bench.wait()
        _stop(url, copy)
        return bench.tps(1, seconds)
    bench = Pgbench(database, seconds)
    time.sleep(1)
    start = bench.now()
    copy = _background_copy(url, *extra)
    while copy.poll() is None and bench.process.poll() is None:
        time.sleep(0.05)
    end = bench.now()
    bench.wait()
    _stop(url, copy)
    return bench.tps(start, end)


def part_two(url: str, database: str, seconds: int, repeat: int) -> None:
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-s", "10", "-q",
                    database], check=True, capture_output=True)
    run_bluegreen(url, "init")
    rows: dict[str, list[float]] = {}

    def note(label: str, tps: float, base: float) -> None:
        rows.setdefault(label, []).append(tps / base)

    conditions = [
        ("during an unthrottled copy", lambda: _during(url, database, seconds)),
        ("during a copy at 25,000 rows/s",
         lambda: _during(url, database, seconds, "--max-rows-per-second", "25000")),
        ("capture trigger alone (copy held at 1 row/s)",
         lambda: _during(url, database, seconds, "--max-rows-per-second", "1",
                         "--chunk-size", "100")),
        ("under copy --follow (synced shadow kept in sync)",
         lambda: _during(url, database, seconds, until_synced=True)),
    ]
    for _ in range(repeat):
        for label, condition in conditions:
            # Each condition against a no-migration run just before it: the machine's
            # load drifts over minutes, and a paired ratio cancels most of the drift.
            bench = Pgbench(database, seconds)
            bench.wait()
            base = bench.tps(1, seconds)
            rows.setdefault("no migration (TPS)", []).append(base)
            note(label, condition(), base)
    print(f"\npgbench scale 10, 4 clients, 2 threads, {seconds} s per condition, "
          f"median of {repeat}")
    for label, values in rows.items():
        if label.startswith("no migration"):
            print(f"  {label:<50} {median(values):8.0f} TPS   100%")
        else:
            print(f"  {label:<50} {'':>12} {median(values) * 100:5.0f}%   (per run: "
                  f"{', '.join(f'{v * 100:.0f}%' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--skip-copy", action="store_true")
    args = parser.parse_args()

    url = fresh_database()
    database = url.rsplit("/", 1)[1]
    if not args.skip_copy:
        for rows in args.rows:
            part_one(url, rows, args.repeat)
    if not args.skip_pgbench:
        url = fresh_database()
        part_two(url, database, args.pgbench_seconds, args.repeat)


if __name__ == "__main__":
    main()
