"""kill -9 of bluegreen apply inside each kind of step (a direct statement, a concurrent
index build, a batched update, a shadow copy, a cutover), with writers running, then a
rerun: the migration finishes with the schema it should have, every range of the batch
applied exactly once, nothing the writers committed lost, and no INVALID index, trigger or
shadow left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.support import shop
from tests.support.items import item_writers, seed_items

ROWS = 20_000
MIGRATION = {
    "001_add.sql": "ALTER TABLE items ADD COLUMN d text;\n",
    "002_index.sql": "CREATE INDEX CONCURRENTLY items_b_idx ON items (b);\n",
    "003_bump.sql": "UPDATE items SET c = c + 1;\n",
    "004_widen.sql": "ALTER TABLE items ALTER COLUMN a TYPE bigint;\n",
}


def write_migration(tmp_path: Path) -> list[Path]:
    paths = []
    for name, text in MIGRATION.items():
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    return paths


def bluegreen(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bluegreen", *args, "--database-url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, COLUMNS="200"))


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    proc = bluegreen(url, *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (args, out[-3000:], err[-3000:])
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill(proc: subprocess.Popen, pg: psycopg.Connection) -> None:
    """kill -9, and the server-side sessions go too (as a dead client's eventually do)."""
    proc.kill()
    proc.wait()
    pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
               "LIKE 'bluegreen%%' AND datname = current_database() AND pid <> "
               "pg_backend_pid()")
    wait_for(lambda: not pg.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                    "application_name LIKE 'bluegreen%%' AND datname = "
                                    "current_database() AND pid <> pg_backend_pid()"
                                    ).fetchone()[0], "the killed sessions to end")


def waiting_on_lock(pg: psycopg.Connection, application: str) -> Callable[[], bool]:
    return lambda: bool(pg.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s AND "
        "wait_event_type = 'Lock'", (application,)).fetchone()[0])


def step_status(pg: psycopg.Connection, source: str, seq: int = 1) -> str | None:
    row = pg.execute("SELECT s.status FROM bluegreen.apply_steps s JOIN "
                     "bluegreen.apply_revisions r ON r.id = s.revision_id WHERE r.source LIKE %s "
                     "AND s.phase = 'expand' AND s.seq = %s", (f"%{source}", seq)).fetchone()
    return row[0] if row else None


def batch_ranges_done(pg: psycopg.Connection) -> bool:
    row = pg.execute("SELECT s.checkpoint FROM bluegreen.apply_steps s JOIN "
                     "bluegreen.apply_revisions r ON r.id = s.revision_id WHERE r.source LIKE "
                     "'%%003_bump.sql'").fetchone()
    return bool(row and row[0] and row[0].get("lo"))


def rows_copied(pg: psycopg.Connection) -> bool:
    row = pg.execute("SELECT rows_copied FROM bluegreen.migrations WHERE table_name = 'items'"
                     ).fetchone()
    return bool(row and row[0] > 0)


CASES = ["direct", "concurrent", "batched", "copy", "cutover"]


@pytest.mark.parametrize("kind", CASES)
def test_kill_9_inside_a_step_then_rerun(kind, bg, pg, tmp_path):
    seeds = seed_items(pg, ROWS)
    paths = [str(p) for p in write_migration(tmp_path)]
    before = {"direct": 0, "concurrent": 1, "batched": 2, "copy": 3, "cutover": 3}[kind]
    if before:  # the revisions before the one killed ran to the end
        run(bg, "apply", *paths[:before], "--phase", "expand")
    writers = item_writers(bg, seeds, count=2, pause=0.005, prepare=False)
    for writer in writers:
        writer.start()
    blocker = psycopg.connect(bg, autocommit=True)
    args = ["apply", *paths, "--phase", "expand", "--lock-timeout", "60000"]
    try:
        if kind in ("direct", "cutover"):
            # A reader's long transaction: the step waits for its lock.
            blocker.execute("BEGIN")
            blocker.execute("LOCK TABLE items IN ACCESS SHARE MODE")
        elif kind == "concurrent":
            # An old snapshot: the index build waits for it, its index already INVALID.
            blocker.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            blocker.execute("SELECT count(*) FROM items")
        elif kind in ("batched", "copy"):
            args += ["--max-rows-per-second", "2000", "--chunk-rows", "200"]
        proc = bluegreen(bg, *args)
        if kind == "direct":
            wait_for(waiting_on_lock(pg, "bluegreen-apply%"), "the ALTER to wait")
        elif kind == "concurrent":
            wait_for(lambda: pg.execute("SELECT count(*) FROM pg_index WHERE indexrelid = "
                                        "to_regclass('items_b_idx') AND NOT indisvalid"
                                        ).fetchone()[0] == 1, "an INVALID index")
        elif kind == "batched":
            wait_for(lambda: batch_ranges_done(pg), "some ranges of the batch")
        elif kind == "copy":
            wait_for(lambda: rows_copied(pg), "the copy to start")
        else:
            wait_for(waiting_on_lock(pg, "bluegreen%"), "the cutover to wait")
        assert proc.poll() is None, proc.communicate()
        kill(proc, pg)
    finally:
        blocker.close()
    if kind == "concurrent":
        assert pg.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0]
    rerun = run(bg, *args[:1 + len(paths) + 2])
    assert "INVALID" in rerun.stderr if kind == "concurrent" else True
    run(bg, "apply", *paths, "--phase", "contract")
    time.sleep(0.3)
    for writer in writers:
        writer.stop()
        assert writer.errors == [], writer.errors[:3]
    # The schema the migration asks for.
    types = dict(pg.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'items'").fetchall())
    assert types["a"] == "bigint" and types["d"] == "text"
    assert pg.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                      "to_regclass('items_b_idx')").fetchone() == (True,)
    # Every range of the batch applied exactly once, whatever was killed.
    assert pg.execute("SELECT count(*) FROM items WHERE id <= %s AND c <> id + 1",
                      (ROWS,)).fetchone()[0] == 0
    # What the writers committed (a and b; c is the migration's).
    expected = dict((i, row[:2]) for i, row in seeds.items())
    for writer in writers:
        for key, row in writer.committed.items():
            if row is None:
                expected.pop(key, None)
            else:
                expected[key] = row[:2]
    assert {r[0]: (r[1], r[2]) for r in pg.execute("SELECT id, a, b FROM items")} == expected
    assert shop.leftovers(pg) == []
