"""Start-up time of the CLI against a bare two-command typer app.

    .venv/bin/python bench/startup_bench.py [--runs 15]

Runs each command ``--runs`` times, interleaved (so a noisy neighbour hurts every row alike),
and prints the median wall time, the ratio to the bare typer app's ``--help``, and for
``plan`` the ratio to bluegreen's own ``--help`` (the goal: within 2x). No database is
needed: ``plan`` judges one small SQL file. Takes about ``runs`` seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    """Say bye."""
    print(f"bye {name}")


if __name__ == "__main__":
    app()
'''
MIGRATION = "ALTER TABLE users ADD COLUMN nick text;\n"


def bluegreen_command() -> list[str]:
    """The console script next to this interpreter, as a user runs it; else -m."""
    script = Path(sys.executable).with_name("bluegreen")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bluegreen"]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bluegreen-startup-"))
    try:
        (folder / "bare.py").write_text(BARE_APP)
        (folder / "migration.sql").write_text(MIGRATION)
        bg = bluegreen_command()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BLUEGREEN_", "DATABASE_URL"))}
        complete_env = dict(env, _BLUEGREEN_COMPLETE="complete_bash",
                            COMP_WORDS="bluegreen pl", COMP_CWORD="1")
        rows = [
            ("python -c pass (the interpreter)", [sys.executable, "-c", "pass"], env),
            ("bare typer app --help", [sys.executable, "bare.py", "--help"], env),
            ("bare typer app, a command", [sys.executable, "bare.py", "hello", "x"], env),
            ("bluegreen --help", [*bg, "--help"], env),
            ("bluegreen --version", [*bg, "--version"], env),
            ("bluegreen shell completion", bg, complete_env),
            ("bluegreen plan migration.sql", [*bg, "plan", "migration.sql"], env),
        ]
        times: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        for _name, argv, run_env in rows:  # warm the page cache and .pyc files
            timed(argv, run_env, folder)
        for _ in range(args.runs):
            for name, argv, run_env in rows:
                times[name].append(timed(argv, run_env, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    floor = medians["bare typer app --help"]
    own_help = medians["bluegreen --help"]
    print(f"start-up, median of {args.runs} runs each (seconds; ratios are what to read on a "
          "shared machine)")
    print(f"{'command':<36} {'median':>8} {'vs bare --help':>15} {'vs bluegreen --help':>20}")
    for name, _, _ in rows:
        print(f"{name:<36} {medians[name]:>8.3f} {medians[name] / floor:>14.2f}x "
              f"{medians[name] / own_help:>19.2f}x")


if __name__ == "__main__":
    main()
