"""Whole transactions: locks accumulate, and a statement that is safe on its own blocks when
an earlier statement of its transaction holds a lock (blocking, not blocking_alone)."""

from __future__ import annotations

import json
import subprocess
import sys

from bluegreen.commands import plan
from tests.planner.helpers import plan_sql
from tests.planner.test_alembic import revision

VALIDATE_AFTER_ADD = """
ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT age_pos;
"""


def test_validate_in_the_transaction_that_added_the_constraint_blocks():
    alone = plan_sql(VALIDATE_AFTER_ADD).changes[1]
    assert not alone.blocking and not alone.held_by
    together = plan_sql("BEGIN;" + VALIDATE_AFTER_ADD + "COMMIT;").changes[2]
    assert together.blocking and not together.blocking_alone
    assert together.held_by == [{"source": "migration.sql:2", "table": "users",
                                 "lock": "ACCESS EXCLUSIVE"}]
    finding = next(f for f in together.findings if f.rule == "lock-held-in-transaction")
    assert "migration.sql:2" in finding.message and "autocommit_block" in finding.fix
    assert together.to_dict()["blocking_alone"] is False
    assert together.to_dict()["held_by"][0]["lock"] == "ACCESS EXCLUSIVE"


def test_commit_releases_the_locks():
    change = plan_sql("BEGIN; ALTER TABLE users ADD COLUMN x int; COMMIT; BEGIN; "
                      "ALTER TABLE users VALIDATE CONSTRAINT c; COMMIT;").changes[4]
    assert not change.blocking and not change.held_by


def test_a_lock_on_another_table_counts_too():
    change = plan_sql("BEGIN; ALTER TABLE orders ADD COLUMN note text; "
                      "CREATE INDEX users_name_idx ON users (name);").changes[2]
    assert change.blocking and change.blocking_alone
    assert [h["table"] for h in change.held_by] == ["orders"]


def test_alembic_revision_is_one_transaction_unless_autocommit_block(tmp_path):
    together = revision(tmp_path, "t1", None, """
        op.execute("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID")
        op.execute("ALTER TABLE users VALIDATE CONSTRAINT c")
    """)
    change = plan([together]).changes[1]
    assert change.blocking and not change.blocking_alone
    split = revision(tmp_path, "t2", None, """
        op.execute("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID")
        with op.get_context().autocommit_block():
            op.execute("ALTER TABLE users VALIDATE CONSTRAINT c")
    """)
    assert not plan([split]).changes[1].blocking


def test_goose_up_is_one_transaction_and_down_is_not_judged(tmp_path):
    path = tmp_path / "00002_check.sql"
    path.write_text("-- +goose Up\n" + VALIDATE_AFTER_ADD +
                    "-- +goose Down\nDROP TABLE users;\n")
    changes = plan([path]).changes
    assert [c.operation for c in changes] == ["create_check_constraint", "validate_constraint"]
    assert changes[1].blocking and changes[1].source.endswith(":4")
    path.write_text("-- +goose NO TRANSACTION\n-- +goose Up\n" + VALIDATE_AFTER_ADD)
    assert not plan([path]).changes[1].blocking


def test_dbmate_and_single_transaction(tmp_path):
    path = tmp_path / "20200101_check.sql"
    path.write_text("-- migrate:up\n" + VALIDATE_AFTER_ADD + "-- migrate:down\nDROP TABLE x;\n")
    assert plan([path]).changes[1].blocking
    plain = tmp_path / "plain.sql"
    plain.write_text(VALIDATE_AFTER_ADD)
    assert not plan([plain]).changes[1].blocking  # psql: one statement at a time
    assert plan([plain], single_transaction=True).changes[1].blocking


def test_do_block_statements_are_judged_with_their_own_sql():
    change = plan_sql("DO $$ BEGIN\n  IF true THEN\n    ALTER TABLE users RENAME COLUMN name "
                      "TO full_name;\n  END IF;\nEND $$;").changes[0]
    assert change.operation == "do" and change.phase.value == "breaking"
    assert "renaming-column" in [f.rule for f in change.findings]


def test_a_loop_that_commits_is_batched_and_one_that_does_not_blocks():
    loop = ("DO $$ DECLARE r record; BEGIN FOR r IN SELECT id FROM users LOOP "
            "UPDATE users SET name = lower(name) WHERE id = r.id; {commit} END LOOP; END $$;")
    batched = plan_sql(loop.format(commit="COMMIT;")).changes[0]
    assert not batched.blocking
    one_transaction = plan_sql(loop.format(commit="")).changes[0]
    assert one_transaction.blocking
    assert "loop" in one_transaction.findings[0].message


def test_a_batch_picked_with_limit_or_a_key_is_not_blocking():
    for sql in ("UPDATE users SET name = 'x' WHERE id IN (SELECT id FROM users WHERE name "
                "IS NULL LIMIT 1000)", "UPDATE users SET name = 'x' WHERE id = 5",
                "UPDATE users SET name = 'x' WHERE email = 'a@b.c'"):
        assert not plan_sql(sql).changes[0].blocking, sql
    assert plan_sql("UPDATE users SET name = 'x' WHERE city = 'Paris'").changes[0].blocking


def test_plan_json_carries_the_transaction_fields(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text("BEGIN;" + VALIDATE_AFTER_ADD + "COMMIT;")
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan", "--format", "json",
                           str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    change = json.loads(proc.stdout)["changes"][2]
    assert change["blocking"] is True and change["blocking_alone"] is False
    assert change["held_by"][0]["table"] == "users"
