"""Alembic revisions become data: every op is recorded, nothing touches a database."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bluegreen.commands import plan, read_statements
from bluegreen.errors import MigrationLoadError

HEADER = '''
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down}
'''


def revision(tmp_path: Path, rev: str, down: str | None, body: str) -> Path:
    path = tmp_path / f"{rev}_rev.py"
    path.write_text(HEADER.format(rev=rev, down=repr(down)) + "\n\ndef upgrade():\n"
                    + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n")
    return path


def test_ops_execute_batch_and_bind_are_recorded_with_lines(tmp_path):
    path = revision(tmp_path, "a1", None, """
        op.add_column("users", sa.Column("nick", sa.Text()))
        op.execute("UPDATE users SET nick = name")
        with op.batch_alter_table("users") as batch:
            batch.drop_column("legacy")
        op.get_bind().execute(sa.text("DELETE FROM users WHERE id < 0"))
        op.alter_column("users", "email", new_column_name="mail")
    """)
    statements = read_statements([path])
    assert [s.ops[0].__class__.__name__ for s in statements] == [
        "AddColumnOp", "DataChangeOp", "DropColumnOp", "DataChangeOp", "AlterColumnOp"]
    assert [s.line for s in statements] == [10, 11, 13, 14, 15]
    assert statements[0].sql == "ALTER TABLE users ADD COLUMN nick TEXT"


def test_concurrent_index_needs_an_autocommit_block(tmp_path):
    bad = revision(tmp_path, "b1", None, """
        op.create_index("ix", "users", ["name"], postgresql_concurrently=True)
    """)
    good = revision(tmp_path, "b2", None, """
        with op.get_context().autocommit_block():
            op.create_index("ix", "users", ["name"], postgresql_concurrently=True)
    """)
    bad_rules = [f.rule for f in plan([bad]).changes[0].findings]
    assert "concurrently-in-transaction" in bad_rules
    good_change = plan([good]).changes[0]
    assert good_change.findings == [] and not good_change.blocking


def test_python_comment_suppresses_a_rule(tmp_path):
    path = revision(tmp_path, "c1", None, """
        # bluegreen: ignore renaming-column
        op.alter_column("users", "email", new_column_name="mail")
        op.drop_column("users", "x")  # bluegreen: ignore dropping-column
    """)
    rename, drop = plan([path]).changes
    assert [f.rule for f in rename.findings] == ["missing-lock-timeout"]
    assert rename.suppressed == ["renaming-column"]
    assert drop.findings == [] and drop.suppressed == ["dropping-column"]


def test_versions_directory_in_order_and_from_to(tmp_path):
    revision(tmp_path, "r2", "r1", 'op.alter_column("t", "a", new_column_name="b")')
    revision(tmp_path, "r1", None, 'op.create_table("t", sa.Column("a", sa.Integer))')
    revision(tmp_path, "r3", "r2", 'op.drop_column("t", "b")')
    ops = [c.operation for c in plan([tmp_path]).changes]
    assert ops == ["create_table", "rename_column", "drop_column"]
    ops = [c.operation for c in plan([tmp_path], from_rev="r1", to_rev="r2").changes]
    assert ops == ["rename_column"]


def test_a_revision_that_raises_names_its_line(tmp_path):
    path = revision(tmp_path, "d1", None, """
        x = 1
        raise RuntimeError("boom")
    """)
    with pytest.raises(MigrationLoadError) as error:
        plan([path])
    assert f"{path}:11" in str(error.value) and "boom" in str(error.value)


def test_shop_example_plan():
    """The example project shows each phase; its plan is checked here."""
    versions = Path(__file__).parents[2] / "examples" / "shop" / "migrations" / "versions"
    result = plan([versions])
    by_file = {}
    for change in result.changes:
        by_file.setdefault(Path(change.file).name[:4], []).append(change)
    assert {c.phase.value for c in by_file["0001"]} == {"expand"}
    assert {c.phase.value for c in by_file["0002"]} == {"expand"}
    assert not any(c.blocking or c.findings for c in by_file["0002"])
    rename = by_file["0003"][0]
    assert rename.phase.value == "breaking" and rename.strategy.value == "expand-contract"
    assert [s.phase for s in rename.steps][:1] == ["expand"]
    widen = by_file["0004"][0]
    assert widen.blocking and widen.strategy.value == "shadow" and widen.phase.value == "expand"
    assert widen.steps[0].command.startswith("bluegreen copy orders --alter")
    assert by_file["0005"][0].phase.value == "contract"


def test_missing_lock_timeout_applies_to_alembic_revisions(tmp_path):
    path = revision(tmp_path, "e1", None, """
        op.add_column("users", sa.Column("nick", sa.Text()))
        op.drop_column("users", "legacy")
    """)
    first, second = plan([path]).changes
    assert "missing-lock-timeout" in [f.rule for f in first.findings]
    assert "missing-lock-timeout" not in [f.rule for f in second.findings]  # once a file

    set_in_revision = revision(tmp_path, "e2", None, """
        op.execute("SET lock_timeout = '2s'")
        op.add_column("users", sa.Column("nick", sa.Text()))
    """)
    assert not any(f.rule == "missing-lock-timeout"
                   for c in plan([set_in_revision]).changes for f in c.findings)


def test_lock_timeout_set_in_env_py_counts_for_every_revision(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    path = revision(versions, "f1", None, 'op.add_column("users", sa.Column("n", sa.Text()))')
    assert "missing-lock-timeout" in [f.rule for f in plan([path]).changes[0].findings]
    (tmp_path / "env.py").write_text(
        "connection.exec_driver_sql(\"SET lock_timeout = '2s'\")\n")
    assert plan([path]).changes[0].findings == []


def test_print_in_a_revision_keeps_plan_json_valid(tmp_path):
    """A revision's print() output (at import and in upgrade()) must not reach stdout, where
    `plan --format json` writes its one document."""
    import json
    import subprocess
    import sys

    path = revision(tmp_path, "g1", None, """
        print("upgrading users")
        op.add_column("users", sa.Column("nick", sa.Text()))
        print({"debug": True})
    """)
    path.write_text(path.read_text().replace("import sqlalchemy as sa",
                                             "import sqlalchemy as sa\nprint('imported')"))
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan", "--format", "json",
                           str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert [c["operation"] for c in document["changes"]] == ["add_column"]
    assert "upgrading" not in proc.stdout and "imported" not in proc.stdout


def test_alembic_unique_column_is_judged_like_sql(tmp_path):
    path = revision(tmp_path, "h1", None, """
        op.execute("SET lock_timeout = '2s'")
        op.add_column("users", sa.Column("handle", sa.Text(), unique=True))
    """)
    change = plan([path]).changes[1]
    assert change.blocking and "adding-unique-constraint" in [f.rule for f in change.findings]


def test_alembic_ops_become_the_planners_light_ops(tmp_path):
    """Each recorded op is converted: types as SqlType, defaults and conditions as SQL text
    (PostgreSQL's, values inline), ops the planner has no class for kept by name."""
    from bluegreen.planner import ops
    from bluegreen.planner.types import parse_type

    path = revision(tmp_path, "i1", None, """
        op.add_column("users", sa.Column("n", sa.Numeric(10, 2), nullable=False,
                                         server_default="0", unique=True))
        op.alter_column("users", "age", type_=sa.BigInteger, existing_type=sa.Integer)
        op.create_check_constraint("ck_age", "users", sa.column("age") > 5)
        op.create_index("ix_live", "users", ["name"], postgresql_where=sa.text("NOT deleted"))
        op.create_exclude_constraint("ex_period", "users", ("period", "&&"))
        op.create_table_comment("users", "people")
    """)
    statements = read_statements([path])
    add, alter, check, index, exclude, comment = (s.ops[0] for s in statements)
    assert isinstance(add, ops.AddColumnOp) and add.column.type == parse_type("numeric(10,2)")
    assert add.column.server_default == "'0'" and add.column.unique
    assert not add.column.nullable
    assert (alter.modify_type, alter.existing_type) == (parse_type("bigint"), parse_type("int"))
    assert check.condition == "age > 5"
    assert index.kw["postgresql_where"] == "NOT deleted"
    assert type(exclude) is ops.AddConstraintOp and exclude.table_name == "users"
    assert ops.operation_name(comment) == "create_table_comment"
    result = plan([path])
    assert "CHECK (age > 5) NOT VALID" in result.changes[2].steps[0].sql
    assert result.changes[3].steps[0].sql.endswith("ON users (name) WHERE NOT deleted")
