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
    assert rename.findings == [] and rename.suppressed == ["renaming-column"]
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
