"""The README's first command: bluegreen demo, on SQLite (no server) and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

from bluegreen.demo import run_demo


def test_demo_on_sqlite(tmp_path):
    result = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", rows=3000)
    assert result.ok, [(s.step, s.detail) for s in result.steps]
    assert [s.step for s in result.steps] == [
        "apply --phase expand", "revert", "apply --phase expand again",
        "apply --phase contract"]
    assert result.app_writes > 50
    add, widen = result.plan.changes
    assert add.strategy.value == "direct" and not add.blocking
    assert widen.blocking and widen.strategy.value == "shadow"
    # The cutover and the rollback blocked writes; the other steps report no such time.
    assert [s.lock_ms is not None for s in result.steps] == [True, True, True, False]


def test_demo_on_postgresql(bg, pg):
    result = run_demo(bg, rows=3000)
    assert result.ok, [(s.step, s.detail) for s in result.steps]
    assert all(s.lock_ms < 1000 for s in result.steps if s.lock_ms is not None)


def test_demo_command_needs_no_server(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "demo", "--rows", "2000"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no write was lost" in proc.stdout
