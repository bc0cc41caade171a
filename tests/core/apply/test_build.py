"""A revision's changes as expand and contract steps, with inverses: pure, no database."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bluegreen.core.apply import sqltext
from bluegreen.core.apply.build import build_revision, prepare_statements
from bluegreen.core.apply.inverse import inverse_of
from bluegreen.core.apply.model import ApplyPhase, Kind
from bluegreen.core.apply.revisions import load_revisions
from bluegreen.core.retry import Backoff
from bluegreen.planner.engine import build_plan
from bluegreen.planner.model import TARGETS, Target
from bluegreen.planner.schema import Schema
from bluegreen.planner.sources.sql import parse_sql

SHOP = Path(__file__).parents[3] / "examples" / "shop" / "migrations" / "versions"
SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, a integer NOT NULL, b text, c integer DEFAULT 0);
CREATE INDEX items_a_idx ON items (a);
"""


def schema() -> Schema:
    out = Schema(known=True, description="test")
    for statement in parse_sql(SCHEMA, "schema.sql"):
        for op in statement.ops:
            out.apply(op, in_migration=False)
    return out


def build(sql: str, *, allow_unsafe: bool = False, dialect: str = "postgresql"):
    statements = parse_sql(sql, "m.sql")
    prepare_statements(statements)
    base = schema()
    before = copy.deepcopy(base)
    plan = build_plan(statements, base, Target(dialect, 15 if dialect == "postgresql" else 3))
    return build_revision(statements, plan.changes, before, allow_unsafe=allow_unsafe,
                          target=TARGETS[dialect])


def kinds(steps) -> list[tuple[str, str]]:
    return [(s.phase.value, s.kind.value) for s in steps.expand + steps.contract]


def test_the_shop_example_becomes_expand_and_contract_steps():
    revisions = load_revisions([SHOP])
    assert [r.key for r in revisions] == [f"alembic:000{i}" for i in range(1, 6)]
    statements = [s for r in revisions for s in r.statements]
    prepare_statements(statements)
    base = Schema(known=True, description="empty")
    before = copy.deepcopy(base)
    changes = build_plan(statements, base, Target("postgresql", 15)).changes
    out, offset = {}, 0
    for revision in revisions:
        count = len(revision.statements)
        out[revision.alembic_revision] = build_revision(
            revision.statements, changes[offset:offset + count], before)
        for statement in revision.statements:
            for op in statement.ops:
                before.apply(op, in_migration=True)
        before.end_migration()
        offset += count
    assert all(not r.refusals for r in out.values())
    assert kinds(out["0002"]) == [("expand", "sql"), ("expand", "concurrent")]
    rename = out["0003"]
    assert [s.kind for s in rename.expand] == [Kind.SQL, Kind.SQL, Kind.SQL, Kind.BATCH,
                                               Kind.CONCURRENT, Kind.SQL, Kind.SQL]
    assert rename.expand[0].mirror is not None and rename.expand[0].mirror.source == "email"
    assert "DROP COLUMN email" in " ".join(rename.contract[0].statements)
    assert kinds(out["0004"]) == [("expand", "copy"), ("expand", "cutover"),
                                  ("contract", "finish")]
    assert out["0004"].expand[0].alter == "ALTER TABLE orders ALTER COLUMN total_cents TYPE " \
                                          "BIGINT"
    assert kinds(out["0005"]) == [("contract", "sql")]


def test_changes_on_one_table_fold_into_one_copy_and_one_cutover():
    steps = build("ALTER TABLE items ADD COLUMN d text;\n"
                  "ALTER TABLE items ALTER COLUMN a TYPE bigint;\n"
                  "ALTER TABLE items ALTER COLUMN c TYPE bigint;\n"
                  "CREATE INDEX CONCURRENTLY items_d_idx ON items (d);")
    assert kinds(steps) == [("expand", "sql"), ("expand", "copy"), ("expand", "cutover"),
                            ("expand", "concurrent"), ("contract", "finish")]
    copy_step = steps.expand[1]
    assert copy_step.tables == ["items"]
    assert copy_step.alter == ("ALTER TABLE items ALTER COLUMN a TYPE bigint;\n"
                               "ALTER TABLE items ALTER COLUMN c TYPE bigint")


def test_a_whole_table_update_runs_in_key_ranges():
    steps = build("UPDATE items SET c = c + 1 WHERE b IS NOT NULL;")
    (step,) = steps.expand
    assert step.kind is Kind.BATCH and step.batch is not None
    assert step.batch.key == ("id",) and step.batch.table == "items"
    assert step.inverse is None and "data change" in (step.inverse_note or "")


def test_unsafe_statements_are_refused_with_the_reason_and_allowed_on_request():
    steps = build("ALTER TABLE items ADD COLUMN d integer NOT NULL;")
    (refusal,) = steps.refusals
    assert refusal.source == "m.sql:1" and "value filled in" in refusal.reason
    assert not steps.expand and not steps.contract
    allowed = build("ALTER TABLE items ADD COLUMN d integer NOT NULL;", allow_unsafe=True)
    assert not allowed.refusals
    assert allowed.expand[0].statements == ["ALTER TABLE items ADD COLUMN d integer NOT NULL"]


def test_rules_about_how_a_tool_runs_statements_do_not_refuse():
    # apply runs CONCURRENTLY outside any transaction and sets lock_timeout itself.
    steps = build("BEGIN;\nCREATE INDEX CONCURRENTLY items_b_idx ON items (b);\nCOMMIT;\n"
                  "ALTER TABLE items ADD COLUMN d text;")
    assert not steps.refusals
    assert kinds(steps) == [("expand", "concurrent"), ("expand", "sql")]


def test_the_migrations_own_settings_run_inside_each_step_but_not_lock_timeout():
    steps = build("SET search_path = public;\nSET lock_timeout = '1h';\n"
                  "ALTER TABLE items ADD COLUMN d text;")
    (step,) = steps.expand
    assert step.settings == ["SET search_path TO 'public'"]


def test_contract_changes_wait_for_the_contract_phase():
    steps = build("ALTER TABLE items DROP COLUMN b;\n"
                  "ALTER TABLE items ADD CONSTRAINT c_positive CHECK (c > 0);")
    assert not steps.expand
    assert [s.statements for s in steps.contract] == [
        ["ALTER TABLE items DROP COLUMN b"],
        ["ALTER TABLE items ADD CONSTRAINT c_positive CHECK (c > 0) NOT VALID"],
        ["ALTER TABLE items VALIDATE CONSTRAINT c_positive"]]


def test_losses_count_values_the_new_app_wrote():
    steps = build("ALTER TABLE items ADD COLUMN d integer DEFAULT 7;\n"
                  "CREATE TABLE notes (id bigint PRIMARY KEY);")
    (added,) = steps.expand[0].losses
    assert added.sql == "SELECT count(*) FROM items WHERE d IS DISTINCT FROM 7"
    (table,) = steps.expand[1].losses
    assert table.sql == "SELECT count(*) FROM notes"


@pytest.mark.parametrize(("sql", "expected"), [
    ("CREATE TABLE t (id int)", ["DROP TABLE IF EXISTS t"]),
    ("CREATE INDEX CONCURRENTLY i ON s.t (a)", ["DROP INDEX CONCURRENTLY IF EXISTS s.i"]),
    ("ALTER TABLE items ADD COLUMN d text, ADD COLUMN e int",
     ["ALTER TABLE items DROP COLUMN IF EXISTS e", "ALTER TABLE items DROP COLUMN IF EXISTS d"]),
    ("ALTER TABLE items ALTER COLUMN c SET DEFAULT 5",
     ["ALTER TABLE items ALTER COLUMN c SET DEFAULT 0"]),
    ("ALTER TABLE items ALTER COLUMN b SET DEFAULT 'x'",
     ["ALTER TABLE items ALTER COLUMN b DROP DEFAULT"]),
    ("ALTER TABLE items ADD CONSTRAINT k CHECK (a > 0) NOT VALID",
     ["ALTER TABLE items DROP CONSTRAINT IF EXISTS k"]),
    ("ALTER TABLE items VALIDATE CONSTRAINT k", []),
    ("ALTER TABLE items RENAME COLUMN b TO bee",
     ["ALTER TABLE items RENAME COLUMN bee TO b"]),
    ("ALTER TABLE items RENAME TO things", ["ALTER TABLE things RENAME TO items"]),
    ("CREATE VIEW v AS SELECT 1", ["DROP VIEW IF EXISTS v"]),
    ("CREATE TYPE mood AS ENUM ('a')", ["DROP TYPE IF EXISTS mood"]),
    ("CREATE FUNCTION f(a int, b text) RETURNS int LANGUAGE sql AS 'SELECT 1'",
     ["DROP FUNCTION IF EXISTS f(integer, text)"]),
    ("CREATE TRIGGER tr BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION f()",
     ["DROP TRIGGER IF EXISTS tr ON items"]),
    ("GRANT SELECT ON items TO app", ["REVOKE SELECT ON TABLE items FROM app"]),
    ("ALTER TABLE items ALTER COLUMN b DROP NOT NULL", [
        "ALTER TABLE items ADD CONSTRAINT items_b_not_null CHECK (b IS NOT NULL) NOT VALID",
        "ALTER TABLE items VALIDATE CONSTRAINT items_b_not_null",
        "ALTER TABLE items ALTER COLUMN b SET NOT NULL",
        "ALTER TABLE items DROP CONSTRAINT IF EXISTS items_b_not_null"]),
    ("ALTER TYPE mood ADD VALUE 'b'", None),
    ("UPDATE items SET c = 1", None),
    ("ALTER TABLE items DROP COLUMN b", None),
    ("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", None),
])
def test_inverse_of(sql, expected):
    (piece,) = sqltext.split(sql)
    undo, note = inverse_of(piece.node, piece.text, schema())
    assert undo == expected
    assert (note is None) == (expected is not None), note


def test_statements_that_must_run_outside_a_transaction():
    outside = ["CREATE INDEX CONCURRENTLY i ON t (a)", "DROP INDEX CONCURRENTLY i",
               "REINDEX INDEX CONCURRENTLY i", "ALTER TYPE mood ADD VALUE 'x'", "VACUUM t"]
    inside = ["CREATE INDEX i ON t (a)", "ALTER TYPE mood RENAME VALUE 'a' TO 'b'",
              "ALTER TABLE t ADD COLUMN d int"]
    assert all(sqltext.outside_transaction(sqltext.split(s)[0].node) for s in outside)
    assert not any(sqltext.outside_transaction(sqltext.split(s)[0].node) for s in inside)


def test_split_keeps_each_statement_as_written():
    pieces = sqltext.split("-- a comment\nCREATE TABLE t (a int);\n\nDO $$ BEGIN PERFORM 1; "
                           "END $$;")
    assert [p.text for p in pieces] == ["CREATE TABLE t (a int)",
                                        "DO $$ BEGIN PERFORM 1; END $$"]
    with pytest.raises(sqltext.Unparsable):
        sqltext.split("ALTER TABLE t ADD COLUMN x int DEFAULT :value")


def test_backoff_grows_and_is_capped():
    backoff = Backoff(base=0.1, cap=2.0, jitter=0.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 10)] == [0.1, 0.2, 0.4, 2.0]
    jittered = Backoff(base=1.0, cap=10.0, jitter=0.5)
    assert jittered.delay(1, rng=lambda: 0.0) == 0.5 and jittered.delay(1, rng=lambda: 1.0) == 1.5


def test_phases_of_a_revision():
    steps = build("ALTER TABLE items ADD COLUMN d text;\nALTER TABLE items DROP COLUMN b;")
    assert [s.phase for s in steps.phase(ApplyPhase.EXPAND)] == [ApplyPhase.EXPAND]
    assert [s.phase for s in steps.phase(ApplyPhase.CONTRACT)] == [ApplyPhase.CONTRACT]


def test_a_folder_of_sql_files_is_one_revision_per_file_in_name_order(tmp_path):
    (tmp_path / "002_b.sql").write_text("ALTER TABLE items ADD COLUMN e text;")
    (tmp_path / "001_a.sql").write_text("ALTER TABLE items ADD COLUMN d text;")
    (tmp_path / "notes.txt").write_text("not a migration")
    revisions = load_revisions([tmp_path])
    assert [r.path.name for r in revisions] == ["001_a.sql", "002_b.sql"]
    assert revisions[0].key.startswith("sql:") and len(revisions[0].content_hash) == 64


def test_a_rename_with_its_own_compatibility_view_runs_as_written_in_one_step():
    sql = ("BEGIN;\nALTER TABLE items RENAME TO things;\n"
           "CREATE VIEW items AS SELECT * FROM things;\nCOMMIT;")
    steps = build(sql)
    assert not steps.refusals and not steps.contract
    (step,) = steps.expand
    assert step.kind is Kind.SQL
    assert step.statements == ["ALTER TABLE items RENAME TO things",
                               "CREATE VIEW items AS SELECT * FROM things"]
    assert step.inverse == ["DROP VIEW IF EXISTS items", "ALTER TABLE things RENAME TO items"]


def test_the_planner_credits_the_view_only_within_one_transaction():
    from bluegreen.commands import plan

    def judged(tmp_sql: str):
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
            handle.write(tmp_sql)
        schema_file = Path(handle.name).with_suffix(".schema.sql")
        schema_file.write_text(SCHEMA)
        return plan([handle.name], schema_file=schema_file).changes[1]

    together = judged("BEGIN;\nALTER TABLE items RENAME TO things;\n"
                      "CREATE VIEW items AS SELECT * FROM things;\nCOMMIT;")
    assert together.phase.value == "expand" and together.strategy.value == "direct"
    apart = judged("SELECT 1;\nALTER TABLE items RENAME TO things;\n"
                   "CREATE VIEW items AS SELECT * FROM things;")
    assert apart.phase.value == "breaking"
