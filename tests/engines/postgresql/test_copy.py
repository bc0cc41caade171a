"""bluegreen copy on PostgreSQL, with writer threads inserting, updating (primary keys too)
and deleting throughout; results compared with what the writers committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.core.pace import ThrottleSettings
from bluegreen.errors import BluegreenError
from tests.support.items import expected_rows, item_writers, live_rows, seed_items

ALTER = ("ALTER TABLE items ALTER COLUMN a TYPE bigint, ADD COLUMN d text DEFAULT 'x', "
         "DROP COLUMN c; ALTER TABLE items RENAME COLUMN b TO title")


def shadow_rows(conn, url) -> dict[int, tuple]:
    (row,) = commands.status(url, "items")
    name = row.record.shadow_table
    return {r[0]: tuple(r[1:]) for r in conn.execute(f'SELECT id, a, title, d FROM "{name}"')}


def expected_shadow(live: dict[int, tuple]) -> dict[int, tuple]:
    return {k: (a, b, "x") for k, (a, b, _c) in live.items()}


def stop_all(writers) -> None:
    for writer in writers:
        writer.stop()
    for writer in writers:
        assert writer.errors == [], writer.errors[:3]
        assert writer.writes > 10


def finish_sync(url: str) -> None:
    """Writers stopped: resume the copy and replay everything left."""
    result = commands.copy(url, "items", None, CopyOptions(sync_threshold=1))
    assert result.record.state == "synced" and result.backlog == 0


def test_copy_syncs_while_writers_write(bg, pg):
    seeds = seed_items(pg, 20_000)
    writers = item_writers(bg, seeds)
    for writer in writers:
        writer.start()
    time.sleep(0.3)
    options = CopyOptions(chunk_size=500, workers=2,
                          throttle=ThrottleSettings(max_rows_per_second=10_000))
    progress = []
    result = commands.copy(bg, "items", ALTER, options, on_progress=progress.append)
    assert result.record.state == "synced"
    assert progress and progress[-1].phase == "synced"
    # While the writers keep going, verify is exact: queued keys are left out at one snapshot.
    assert commands.verify(bg, "items").equal
    time.sleep(0.5)
    stop_all(writers)
    finish_sync(bg)
    expected = expected_rows(seeds, writers)
    assert live_rows(pg) == expected
    assert shadow_rows(pg, bg) == expected_shadow(expected)
    assert commands.verify(bg, "items").equal
    (status,) = commands.status(bg, "items")
    assert status.record.rows_replayed > 0 and status.backlog == 0
    indexes = [r[0] for r in pg.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (status.record.shadow_table,))]
    assert any("(a)" in d for d in indexes) and any("PRIMARY" in d or "pkey" in d
                                                   for d in indexes)


def _copy_process(url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bluegreen", "copy", "items", "--database-url", url,
         "--chunk-size", "200", "--workers", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows_copied(conn) -> int:
    row = conn.execute("SELECT rows_copied FROM bluegreen.migrations ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    return row[0] if row else 0


def test_kill_9_midway_then_rerun_ends_equal(bg, pg):
    seeds = seed_items(pg, 20_000)
    writers = item_writers(bg, seeds)
    for writer in writers:
        writer.start()
    proc = _copy_process(bg, "--alter", ALTER, "--max-rows-per-second", "8000")
    deadline = time.monotonic() + 30
    while _rows_copied(pg) < 4000 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    copied_before = _rows_copied(pg)
    assert 4000 <= copied_before < 20_000
    done_before = dict(pg.execute("SELECT seq, rows_copied FROM bluegreen.chunks WHERE done"
                                  ).fetchall())
    time.sleep(0.3)
    rerun = _copy_process(bg)  # no --alter: resume
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "resuming the copy" in err + out
    done_after = dict(pg.execute("SELECT seq, rows_copied FROM bluegreen.chunks WHERE done"
                                 ).fetchall())
    # Finished chunks were not copied again.
    assert {s: done_after[s] for s in done_before} == done_before
    stop_all(writers)
    finish_sync(bg)
    expected = expected_rows(seeds, writers)
    assert live_rows(pg) == expected
    assert shadow_rows(pg, bg) == expected_shadow(expected)


def test_pause_and_resume(bg, pg):
    seed_items(pg, 20_000)
    options = CopyOptions(chunk_size=200, workers=1,
                          throttle=ThrottleSettings(max_rows_per_second=5000,
                                                    check_interval=0.1))
    results = []
    thread = threading.Thread(target=lambda: results.append(
        commands.copy(bg, "items", ALTER, options)))
    thread.start()
    deadline = time.monotonic() + 20
    while _rows_copied(pg) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    commands.set_paused(bg, "items", True)
    time.sleep(0.6)  # the chunk in flight finishes
    paused_at = _rows_copied(pg)
    time.sleep(1.2)
    assert _rows_copied(pg) == paused_at
    assert commands.status(bg, "items")[0].record.paused
    commands.set_paused(bg, "items", False)
    thread.join(timeout=60)
    assert results and results[0].record.state == "synced"
    assert results[0].record.rows_copied == 20_000


def _bluegreen_objects(conn) -> list:
    return conn.execute(
        "SELECT 'table ' || relname FROM pg_class WHERE relname LIKE '\\_bg%%' UNION ALL "
        "SELECT 'queue ' || relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE n.nspname = 'bluegreen' AND relname LIKE 'queue%%' UNION ALL "
        "SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal UNION ALL "
        "SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'queue%%'").fetchall()


def test_abort_leaves_no_trace(bg, pg):
    seeds = seed_items(pg, 5000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    commands.copy(bg, "items", ALTER, CopyOptions(chunk_size=1000))
    assert _bluegreen_objects(pg)
    record, statements = commands.abort(bg, "items")
    stop_all(writers)
    assert record.state == "aborted"
    assert _bluegreen_objects(pg) == []
    assert live_rows(pg) == expected_rows(seeds, writers)
    assert pg.execute("SELECT count(*) FROM bluegreen.chunks").fetchone()[0] == 0
    # A new copy of the same table can start afterwards.
    assert commands.copy(bg, "items", ALTER).record.state == "synced"


def test_abort_after_a_killed_copy(bg, pg):
    seed_items(pg, 20_000)
    proc = _copy_process(bg, "--alter", ALTER, "--max-rows-per-second", "5000")
    deadline = time.monotonic() + 20
    while _rows_copied(pg) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    commands.abort(bg, "items")
    assert _bluegreen_objects(pg) == []


def test_verify_finds_and_repairs_a_difference(bg, pg):
    seed_items(pg, 5000)
    commands.copy(bg, "items", ALTER, CopyOptions(chunk_size=1000))
    shadow = commands.status(bg, "items")[0].record.shadow_table
    pg.execute(f'ALTER TABLE "{shadow}" DISABLE TRIGGER ALL')
    pg.execute(f"UPDATE \"{shadow}\" SET title = 'tampered' WHERE id = 4321")
    pg.execute(f'DELETE FROM "{shadow}" WHERE id = 17')
    result = commands.verify(bg, "items", chunk_rows=1000)
    assert not result.equal and len(result.differing) == 2
    repaired = commands.verify(bg, "items", chunk_rows=1000, repair=True)
    assert repaired.repaired_keys >= 1000
    assert commands.verify(bg, "items", chunk_rows=1000).equal


def test_dry_run_prints_sql_and_runs_none(bg, pg):
    seed_items(pg, 100)
    statements = commands.copy_dry_run(bg, "items", ALTER)
    text = "\n".join(statements)
    assert "CREATE TABLE" in text and "CREATE TRIGGER" in text and "INSERT INTO" in text
    # A type change is left to the INSERT's assignment cast, as ALTER TABLE casts (a value
    # that does not fit is an error, not cut); a renamed column is written under its new name.
    assert 'CAST("a"' not in text and '"title"' in text
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
    assert _bluegreen_objects(pg) == []


def test_long_transactions_are_warned_about(bg, pg, pg_url):
    seed_items(pg, 100)
    with psycopg.connect(pg_url) as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it open
        time.sleep(1.1)
        result = commands.copy(bg, "items", ALTER, CopyOptions(long_transaction_seconds=1))
    assert any("transaction open for" in w for w in result.warnings)


@pytest.mark.parametrize(("setup", "table", "alter", "message"), [
    ("", "nope", "ALTER TABLE nope ADD COLUMN x int", "table nope does not exist"),
    ("CREATE TABLE t (a int)", "t", "ALTER TABLE t ADD COLUMN x int", "has no primary key"),
    ("CREATE TABLE t (id int PRIMARY KEY, k int) PARTITION BY RANGE (id)", "t",
     "ALTER TABLE t ADD COLUMN x int", "is partitioned"),
    ("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY) INHERITS (p)",
     "t", "ALTER TABLE t ADD COLUMN x int", "inheritance"),
    ("CREATE TABLE t (id int PRIMARY KEY)", "t", "ALTER TABLE t ADD COLUM x int",
     "--alter does not parse"),
    ("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int PRIMARY KEY)", "t",
     "ALTER TABLE u ADD COLUMN x int", "--alter changes u, not t"),
    ("CREATE TABLE t (id int PRIMARY KEY)", "t", "DROP TABLE t", "may only hold ALTER TABLE"),
    ("CREATE TABLE t (id int PRIMARY KEY)", "t", "ALTER TABLE t ADD COLUMN x intt",
     "the new shape does not build"),
    ("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)", "t",
     "ALTER TABLE t ADD COLUMN x int NOT NULL", "existing rows do not fit the new shape"),
    ("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'abc')", "t",
     "ALTER TABLE t ALTER COLUMN v TYPE int USING v::int",
     "existing rows do not fit the new shape"),
    ("CREATE TABLE t (id int PRIMARY KEY, v int)", "t", "ALTER TABLE t DROP COLUMN id",
     "primary key"),
])
def test_refusals(bg, pg, setup, table, alter, message):
    if setup:
        pg.execute(setup)
    with pytest.raises(BluegreenError) as error:
        commands.copy(bg, table, alter)
    assert message in str(error.value)
    # A refused copy leaves nothing behind.
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations WHERE state <> 'aborted'"
                      ).fetchone()[0] == 0
    assert _bluegreen_objects(pg) == []


def test_a_second_copy_of_the_same_table_is_refused(bg, pg):
    seed_items(pg, 100)
    commands.copy(bg, "items", ALTER)
    with pytest.raises(BluegreenError, match="already has a copy in progress"):
        commands.copy(bg, "items", "ALTER TABLE items ADD COLUMN z int")


def test_commands_need_init(pg, pg_url):
    from tests.conftest import sqlalchemy_url

    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    seed_items(pg, 10)
    with pytest.raises(BluegreenError, match="run `bluegreen init` first"):
        commands.copy(sqlalchemy_url(pg_url), "items", ALTER)
    with pytest.raises(BluegreenError, match="run `bluegreen init` first"):
        commands.status(sqlalchemy_url(pg_url))
    before, after = commands.init(sqlalchemy_url(pg_url))
    assert before is None and after
    assert commands.init(sqlalchemy_url(pg_url)) == (after, after)


def test_out_of_order_commands_are_refused(bg, pg):
    seed_items(pg, 10)
    with pytest.raises(BluegreenError, match="no active bluegreen migration for items"):
        commands.abort(bg, "items")
    with pytest.raises(BluegreenError, match="no active bluegreen migration for items"):
        commands.verify(bg, "items")
    with pytest.raises(BluegreenError, match="no copy of items to resume"):
        commands.copy(bg, "items", None)


def test_truncate_during_a_copy_empties_the_shadow(bg, pg):
    seed_items(pg, 5000)
    commands.copy(bg, "items", ALTER, CopyOptions(chunk_size=1000))
    pg.execute("TRUNCATE items")
    pg.execute("INSERT INTO items (id, a, b, c) VALUES (1, 1, 'after', 1)")
    finish_sync(bg)
    assert shadow_rows(pg, bg) == {1: (1, "after", "x")}
    assert commands.verify(bg, "items").equal


def test_rows_that_swap_a_unique_value_replay(bg, pg):
    pg.execute("CREATE TABLE u (id bigint PRIMARY KEY, code text UNIQUE, v int)")
    pg.execute("INSERT INTO u SELECT g, 'c' || g, g FROM generate_series(1, 100) g")
    commands.copy(bg, "u", "ALTER TABLE u ADD COLUMN w int")
    # Swap codes of rows 1 and 100 through a free value, in one transaction.
    with pg.transaction():
        pg.execute("UPDATE u SET code = 'tmp' WHERE id = 1")
        pg.execute("UPDATE u SET code = 'c1' WHERE id = 100")
        pg.execute("UPDATE u SET code = 'c100' WHERE id = 1")
    # Queue order is 1, 100, 100, 1: a batch of one key collides on 'c1'/'c100'.
    result = commands.copy(bg, "u", None, CopyOptions(sync_threshold=1, replay_batch=1))
    assert result.backlog == 0
    shadow = commands.status(bg, "u")[0].record.shadow_table
    assert dict(pg.execute(f'SELECT id, code FROM "{shadow}" WHERE id IN (1, 100)')) == {
        1: "c100", 100: "c1"}


def test_throttle_query_holds_the_copy_back(bg, pg):
    seed_items(pg, 5000)
    pg.execute("CREATE TABLE hold_copy (on_hold boolean)")
    pg.execute("INSERT INTO hold_copy VALUES (true)")
    options = CopyOptions(chunk_size=500, workers=1, throttle=ThrottleSettings(
        throttle_query="SELECT bool_or(on_hold) FROM hold_copy", check_interval=0.1))
    progress = []
    results = []
    thread = threading.Thread(target=lambda: results.append(
        commands.copy(bg, "items", ALTER, options, on_progress=progress.append)))
    thread.start()
    time.sleep(1.5)
    assert _rows_copied(pg) == 0
    assert any(p.throttled == "throttle query returned true" for p in progress)
    pg.execute("DELETE FROM hold_copy")
    thread.join(timeout=60)
    assert results and results[0].record.rows_copied == 5000


def test_throttle_signals_read_from_the_server(bg, pg, pg_url):
    from bluegreen.engines.postgresql.throttle import PgSignals

    settings = ThrottleSettings(max_replication_lag=5, max_active_sessions=1000)
    signals = PgSignals(pg_url, settings, watch=lambda conn: None)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert signals.reason(conn) is None  # no replica lags, few sessions are active
        signals.settings = ThrottleSettings(max_active_sessions=-1)
        assert "active sessions" in signals.reason(conn)
