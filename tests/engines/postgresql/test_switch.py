"""cutover, rollback and finish on PostgreSQL, with writers running throughout: after each
step the live table holds exactly what the writers committed, and no writer sees an error."""

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
from bluegreen.errors import BluegreenError
from tests.support.items import expected_rows, item_writers, live_rows, seed_items

# Adds a column: the writers' statements, prepared on the server, keep their result types.
ALTER = "ALTER TABLE items ADD COLUMN d text DEFAULT 'x'"
# Changes a type the writers read back: server-side prepared statements would fail with
# "cached plan must not change result type" after the switch, so these writers do not
# prepare (see README: prepared statements and type changes).
TYPE_ALTER = "ALTER TABLE items ALTER COLUMN a TYPE bigint, ADD COLUMN d text DEFAULT 'x'"


def check(pg, seeds, writers) -> None:
    for writer in writers:
        writer.hold()
    try:
        assert live_rows(pg) == expected_rows(seeds, writers)
        for writer in writers:
            assert writer.errors == [], writer.errors[:3]
    finally:
        for writer in writers:
            writer.release()


def bluegreen_leftovers(conn) -> list:
    return conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE '\\_bg%%' UNION ALL "
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'bluegreen' AND relname NOT IN ('migrations', 'chunks', "
        "'alembic_version', 'locks') AND relname NOT LIKE 'apply\\_%%' AND relkind = 'r' "
        "UNION ALL "
        "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'bluegreen%%' UNION ALL "
        "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'bluegreen'").fetchall()


def test_copy_cutover_rollback_cutover_finish_with_writers(bg, pg):
    seeds = seed_items(pg, 10_000)
    writers = item_writers(bg, seeds, count=3)
    for writer in writers:
        writer.start()
    time.sleep(0.2)
    commands.copy(bg, "items", ALTER, CopyOptions(chunk_size=1000))
    check(pg, seeds, writers)
    first = commands.cutover(bg, ["items"])
    assert first.records[0].state == "cut_over" and first.lock_ms < 5000
    time.sleep(0.5)
    check(pg, seeds, writers)
    back = commands.rollback(bg, ["items"])
    assert back.records[0].state == "rolled_back" and back.warnings == []
    time.sleep(0.5)
    # Every write made while green was live is in the old table: nothing lost.
    check(pg, seeds, writers)
    again = commands.cutover(bg, ["items"])
    assert again.records[0].state == "cut_over"
    time.sleep(0.5)
    check(pg, seeds, writers)
    records, _ = commands.finish(bg, ["items"])
    assert records[0].state == "finished"
    time.sleep(0.3)
    check(pg, seeds, writers)
    for writer in writers:
        writer.stop()
        assert writer.errors == [] and writer.writes > 50
    assert bluegreen_leftovers(pg) == []
    assert live_rows(pg) == expected_rows(seeds, writers)
    assert {r[0] for r in pg.execute("SELECT d FROM items")} <= {"x"}


def test_a_type_change_round_trip_with_writers(bg, pg):
    seeds = seed_items(pg, 5000)
    writers = item_writers(bg, seeds, count=2, prepare=False)
    for writer in writers:
        writer.start()
    commands.copy(bg, "items", TYPE_ALTER, CopyOptions(chunk_size=1000))
    commands.cutover(bg, ["items"])
    time.sleep(0.4)
    check(pg, seeds, writers)
    assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                      "'items' AND column_name = 'a'").fetchone()[0] == "bigint"
    assert commands.rollback(bg, ["items"]).warnings == []
    time.sleep(0.4)
    check(pg, seeds, writers)
    assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                      "'items' AND column_name = 'a'").fetchone()[0] == "integer"
    commands.cutover(bg, ["items"])
    commands.finish(bg, ["items"])
    for writer in writers:
        writer.stop()
        assert writer.errors == []
    assert live_rows(pg) == expected_rows(seeds, writers)


DEPENDENTS = """
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL, score integer);
CREATE INDEX accounts_name_idx ON accounts (name);
CREATE TABLE orders (id serial PRIMARY KEY,
                     account_id integer NOT NULL REFERENCES accounts (id));
CREATE VIEW rich_accounts AS SELECT id, name FROM accounts WHERE score > 50;
CREATE TABLE audit (account_id integer, at timestamptz DEFAULT now());
CREATE FUNCTION audit_account() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO audit (account_id) VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW
  EXECUTE FUNCTION audit_account();
COMMENT ON TABLE accounts IS 'customer accounts';
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY accounts_all ON accounts USING (true);
INSERT INTO accounts (name, score) SELECT 'a' || g, g % 100 FROM generate_series(1, 500) g;
INSERT INTO orders (account_id) SELECT g FROM generate_series(1, 500) g;
"""


def _facts(pg) -> dict:
    oid = pg.execute("SELECT 'accounts'::regclass::oid").fetchone()[0]
    return {
        "fk": pg.execute("SELECT confrelid, convalidated FROM pg_constraint WHERE conname = "
                         "'orders_account_id_fkey'").fetchone() == (oid, True),
        "view": pg.execute("SELECT count(*) FROM pg_depend d JOIN pg_rewrite r ON r.oid = "
                           "d.objid WHERE r.ev_class = 'rich_accounts'::regclass AND "
                           "d.refobjid = %s", (oid,)).fetchone()[0] > 0,
        "grant": pg.execute("SELECT has_table_privilege('bg_reader', 'accounts', 'SELECT')"
                            ).fetchone()[0],
        "comment": pg.execute("SELECT obj_description(%s, 'pg_class')", (oid,)
                              ).fetchone()[0] == "customer accounts",
        "policy": pg.execute("SELECT count(*) FROM pg_policy WHERE polrelid = %s", (oid,)
                             ).fetchone()[0] == 1,
        "rls": pg.execute("SELECT relrowsecurity FROM pg_class WHERE oid = %s", (oid,)
                          ).fetchone()[0],
        "trigger": pg.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s AND tgname "
                              "= 'accounts_audit'", (oid,)).fetchone()[0] == 1,
        "sequence": pg.execute("SELECT pg_get_serial_sequence('accounts', 'id')"
                               ).fetchone()[0] == "public.accounts_id_seq",
        "index names": {r[0] for r in pg.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'accounts'")} == {
            "accounts_pkey", "accounts_name_idx"},
    }


def test_what_follows_the_table_moves_both_ways(bg, pg):
    pg.execute("DO $$ BEGIN CREATE ROLE bg_reader; EXCEPTION WHEN duplicate_object THEN "
               "NULL; END $$")
    pg.execute(DEPENDENTS)
    pg.execute("GRANT SELECT ON accounts TO bg_reader")
    commands.copy(bg, "accounts", "ALTER TABLE accounts ADD COLUMN tier text")
    assert all(_facts(pg).values())
    commands.cutover(bg, ["accounts"])
    facts = _facts(pg)
    assert all(facts.values()), facts
    new_id = pg.execute("INSERT INTO accounts (name, score, tier) VALUES ('green', 90, 'gold') "
                        "RETURNING id").fetchone()[0]
    assert new_id == 501  # the serial goes on where it was
    assert pg.execute("SELECT count(*) FROM rich_accounts WHERE name = 'green'").fetchone()[0]
    assert pg.execute("SELECT count(*) FROM audit WHERE account_id = %s", (new_id,)
                      ).fetchone()[0] == 1
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO orders (account_id) VALUES (99999)")
    commands.rollback(bg, ["accounts"])
    facts = _facts(pg)
    assert all(facts.values()), facts
    assert pg.execute("SELECT name FROM accounts WHERE id = %s", (new_id,)).fetchone()[0] == \
        "green"
    assert pg.execute("INSERT INTO accounts (name) VALUES ('blue') RETURNING id"
                      ).fetchone()[0] == 502
    commands.cutover(bg, ["accounts"])
    commands.finish(bg, ["accounts"])
    assert all(_facts(pg).values())
    assert bluegreen_leftovers(pg) == []


def test_identity_column_continues_after_cutover(bg, pg):
    pg.execute("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int)")
    pg.execute("INSERT INTO t (v) SELECT g FROM generate_series(1, 100) g")
    commands.copy(bg, "t", "ALTER TABLE t ADD COLUMN w int")
    commands.cutover(bg, ["t"])
    assert pg.execute("INSERT INTO t (v) VALUES (1) RETURNING id").fetchone()[0] == 101
    commands.rollback(bg, ["t"])
    assert pg.execute("INSERT INTO t (v) VALUES (1) RETURNING id").fetchone()[0] == 102


def test_two_tables_switch_together(bg, pg):
    for name in ("left_t", "right_t"):
        pg.execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, v int)")
        pg.execute(f"INSERT INTO {name} SELECT g, g FROM generate_series(1, 1000) g")
        commands.copy(bg, name, f"ALTER TABLE {name} ALTER COLUMN v TYPE bigint")
    result = commands.cutover(bg, ["left_t", "right_t"])
    assert [r.state for r in result.records] == ["cut_over", "cut_over"]
    assert len({r.lock_ms for r in result.records}) == 1  # one lock window for both
    assert sum("RENAME TO" in s for s in result.statements) == 4
    types = dict(pg.execute("SELECT table_name, data_type FROM information_schema.columns "
                            "WHERE column_name = 'v' AND table_name IN ('left_t', 'right_t')"))
    assert types == {"left_t": "bigint", "right_t": "bigint"}
    commands.rollback(bg, ["left_t", "right_t"])
    types = dict(pg.execute("SELECT table_name, data_type FROM information_schema.columns "
                            "WHERE column_name = 'v' AND table_name IN ('left_t', 'right_t')"))
    assert types == {"left_t": "integer", "right_t": "integer"}


def test_a_failure_in_one_table_switches_neither(bg, pg):
    pg.execute("CREATE TABLE a1 (id bigint PRIMARY KEY)")
    pg.execute("CREATE TABLE a2 (id bigint PRIMARY KEY)")
    commands.copy(bg, "a1", "ALTER TABLE a1 ADD COLUMN x int")
    with pytest.raises(BluegreenError, match="no active bluegreen migration for a2"):
        commands.cutover(bg, ["a1", "a2"])
    assert commands.status(bg, "a1")[0].record.state == "synced"


def test_a_lock_held_elsewhere_retries_then_gives_up_cleanly(bg, pg, pg_url):
    seed_items(pg, 1000)
    commands.copy(bg, "items", ALTER)
    with psycopg.connect(pg_url) as blocker:
        blocker.execute("SELECT count(*) FROM items")  # holds ACCESS SHARE until it ends
        with pytest.raises(BluegreenError, match="gave up after 3 attempts"):
            commands.cutover(bg, ["items"], lock_timeout_ms=100, retries=2)
    assert commands.status(bg, "items")[0].record.state == "synced"
    assert pg.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'bluegreen_capture%%'"
                      ).fetchone()[0] == 1
    # Held for a while, then released: a retry gets through.
    blocker = psycopg.connect(pg_url)
    blocker.execute("SELECT count(*) FROM items")
    threading.Timer(0.8, blocker.close).start()
    events: list[str] = []
    result = commands.cutover(bg, ["items"], lock_timeout_ms=200, retries=20,
                              on_event=events.append)
    assert result.attempts > 1 and any("retrying" in e for e in events)
    assert result.records[0].state == "cut_over"


def test_kill_during_cutover_leaves_a_consistent_state(bg, pg, pg_url):
    seeds = seed_items(pg, 2000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    commands.copy(bg, "items", ALTER)
    with psycopg.connect(pg_url) as blocker:
        blocker.execute("SELECT count(*) FROM items")
        proc = subprocess.Popen([sys.executable, "-m", "bluegreen", "cutover", "items", "--yes",
                                 "--lock-timeout", "20000", "--database-url", bg],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not pg.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                "'bluegreen-cutover' AND wait_event_type = 'Lock'").fetchone()[0]:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.3)
    assert commands.status(bg, "items")[0].record.state == "synced"
    assert pg.execute("SELECT to_regclass('items_old') IS NULL").fetchone()[0]
    result = commands.cutover(bg, ["items"])
    assert result.records[0].state == "cut_over"
    time.sleep(0.3)
    check(pg, seeds, writers)
    for writer in writers:
        writer.stop()


def test_no_reverse_sync_is_required_where_no_inverse_exists(bg, pg):
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, legacy text NOT NULL)")
    pg.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g")
    commands.copy(bg, "t", "ALTER TABLE t DROP COLUMN legacy")
    with pytest.raises(BluegreenError, match="--no-reverse-sync"):
        commands.cutover(bg, ["t"])
    assert commands.status(bg, "t")[0].record.state == "synced"
    commands.cutover(bg, ["t"], reverse_sync=False)
    pg.execute("INSERT INTO t (id) VALUES (1000)")
    result = commands.rollback(bg, ["t"])
    assert any("lost" in w for w in result.warnings)
    # Back on the old table, the new one is re-synced from it before any second cutover.
    commands.cutover(bg, ["t"], reverse_sync=False)
    assert pg.execute("SELECT count(*) FROM t WHERE id = 1000").fetchone()[0] == 0


def test_out_of_order_commands_are_refused(bg, pg):
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
    with pytest.raises(BluegreenError, match="no active bluegreen migration"):
        commands.cutover(bg, ["t"])
    commands.copy(bg, "t", "ALTER TABLE t ADD COLUMN x int")
    with pytest.raises(BluegreenError, match="needs cut_over"):
        commands.rollback(bg, ["t"])
    with pytest.raises(BluegreenError, match="needs cut_over"):
        commands.finish(bg, ["t"])
    commands.cutover(bg, ["t"])
    assert commands.cutover(bg, ["t"]).already  # done already: nothing to do, no refusal
    with pytest.raises(BluegreenError, match="it is cut over; roll it back first"):
        commands.abort(bg, "t")


def test_cutover_refuses_what_it_cannot_move(bg, pg):
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, v int)")
    pg.execute("CREATE MATERIALIZED VIEW mv AS SELECT * FROM t")
    commands.copy(bg, "t", "ALTER TABLE t ADD COLUMN x int")
    with pytest.raises(BluegreenError, match="materialized view mv"):
        commands.cutover(bg, ["t"])
    assert commands.status(bg, "t")[0].record.state == "synced"


def test_dry_runs_print_sql_and_change_nothing(bg, pg):
    seed_items(pg, 100)
    commands.copy(bg, "items", ALTER)
    result = commands.cutover(bg, ["items"], dry_run=True)
    text = "\n".join(result.statements)
    assert "LOCK TABLE" in text and "RENAME TO" in text and "reverse" in text
    assert commands.status(bg, "items")[0].record.state == "synced"
    commands.cutover(bg, ["items"])
    result = commands.rollback(bg, ["items"], dry_run=True)
    assert any("RENAME TO" in s for s in result.statements)
    _, statements = commands.finish(bg, ["items"], dry_run=True)
    assert any("DROP TABLE" in s for s in statements)
    assert commands.status(bg, "items")[0].record.state == "cut_over"


def test_copy_follow_keeps_replaying_until_cut_over(bg, pg):
    seeds = seed_items(pg, 3000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    results = []
    follower = threading.Thread(target=lambda: results.append(commands.copy(
        bg, "items", ALTER, CopyOptions(chunk_size=500, follow=True))))
    follower.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
            not commands.status(bg) or commands.status(bg, "items")[0].record.state != "synced"):
        time.sleep(0.1)
    time.sleep(1.0)
    # Still following: the backlog stays small while the writers go on.
    assert follower.is_alive()
    assert commands.status(bg, "items")[0].backlog < 500
    commands.cutover(bg, ["items"])
    follower.join(timeout=30)
    assert not follower.is_alive() and results[0].record.state == "cut_over"
    time.sleep(0.3)
    check(pg, seeds, writers)
    for writer in writers:
        writer.stop()


def test_truncate_after_cutover_reaches_the_old_table(bg, pg):
    seed_items(pg, 500)
    commands.copy(bg, "items", ALTER)
    commands.cutover(bg, ["items"])
    pg.execute("TRUNCATE items")
    pg.execute("INSERT INTO items (id, a, b, c) VALUES (7, 7, 'after', 7)")
    commands.rollback(bg, ["items"])
    assert live_rows(pg) == {7: (7, "after", 7)}
