"""Statements are judged against the schema they run on: earlier statements of the same
migration, --schema, and --pg-version all change the verdict."""

from __future__ import annotations

import pytest

from bluegreen.errors import TableNotFound
from tests.planner.helpers import plan_sql


def test_everything_on_a_table_created_in_the_same_migration_is_expand():
    plan = plan_sql("""
        CREATE TABLE events (id bigint PRIMARY KEY, kind int, at timestamptz);
        CREATE INDEX events_kind ON events (kind);
        ALTER TABLE events ALTER COLUMN kind TYPE text;
        ALTER TABLE events ADD CONSTRAINT kind_ok CHECK (kind <> '');
        ALTER TABLE events ALTER COLUMN at SET NOT NULL;
        ALTER TABLE events RENAME COLUMN kind TO category;
        UPDATE events SET category = 'x';
    """)
    assert [c.phase.value for c in plan.changes] == ["expand"] * 7
    assert not any(c.blocking for c in plan.changes)


def test_renaming_or_dropping_a_column_added_earlier_in_the_migration_is_expand():
    plan = plan_sql("""
        ALTER TABLE users ADD COLUMN nick text;
        ALTER TABLE users RENAME COLUMN nick TO handle;
        ALTER TABLE users DROP COLUMN handle;
    """)
    assert [c.phase.value for c in plan.changes] == ["expand", "expand", "expand"]


def test_a_table_created_in_an_earlier_file_is_in_use(tmp_path):
    from bluegreen.commands import plan

    (tmp_path / "1.sql").write_text("CREATE TABLE t (id bigint PRIMARY KEY, a int);")
    (tmp_path / "2.sql").write_text("ALTER TABLE t RENAME COLUMN a TO b;")
    result = plan([tmp_path / "1.sql", tmp_path / "2.sql"])
    assert result.changes[1].phase.value == "breaking"


def test_schema_decides_whether_a_type_change_rewrites():
    # users.email is varchar(100) in the schema: widening is metadata only.
    assert not plan_sql("ALTER TABLE users ALTER COLUMN email TYPE varchar(300)"
                        ).changes[0].blocking
    # Without a schema the current type is unknown: judged conservatively.
    unknown = plan_sql("ALTER TABLE users ALTER COLUMN email TYPE varchar(300)", schema=None)
    assert unknown.changes[0].blocking
    assert unknown.changes[0].phase.value == "breaking"
    assert any("no schema given" in a for a in unknown.assumptions)


def test_a_table_missing_from_the_schema_is_bad_input():
    with pytest.raises(TableNotFound) as error:
        plan_sql("ALTER TABLE userz ADD COLUMN x int")
    assert "userz" in str(error.value) and "migration.sql:1" in str(error.value)


def test_pg_version_drives_default_and_not_null_rules():
    sql = "ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT false"
    assert not plan_sql(sql, pg_version=11).changes[0].blocking
    assert plan_sql(sql, pg_version=10).changes[0].blocking
    nn = "ALTER TABLE users ALTER COLUMN age SET NOT NULL"
    assert not plan_sql(nn, pg_version=12).changes[0].blocking
    assert plan_sql(nn, pg_version=11).changes[0].blocking


def test_not_null_after_a_validated_check_in_the_same_migration_is_not_blocking():
    plan = plan_sql("""
        ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID;
        ALTER TABLE users VALIDATE CONSTRAINT name_nn;
        ALTER TABLE users ALTER COLUMN name SET NOT NULL;
    """)
    assert [c.blocking for c in plan.changes] == [False, False, False]
    assert plan.changes[2].phase.value == "contract"


def test_one_change_per_statement_in_input_order_with_lines():
    plan = plan_sql("ALTER TABLE users ADD COLUMN a int,\n  ADD COLUMN b int;\n\n"
                    "DROP TABLE orders;")
    assert [c.source for c in plan.changes] == ["migration.sql:1", "migration.sql:4"]
    assert plan.changes[0].operations == ["add_column", "add_column"]
    assert plan.changes[0].operation == "alter_table"


def test_multi_command_alter_takes_the_worst_verdict():
    plan = plan_sql("ALTER TABLE users ADD COLUMN a int, ALTER COLUMN age TYPE text")
    change = plan.changes[0]
    assert change.phase.value == "breaking" and change.blocking


def test_index_on_a_table_from_a_schema_file_is_blocking(tmp_path):
    from bluegreen.commands import plan

    (tmp_path / "schema.sql").write_text("CREATE TABLE public.t (id integer NOT NULL);\n"
                                         "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey "
                                         "PRIMARY KEY (id);\n")
    (tmp_path / "m.sql").write_text("CREATE INDEX t_id ON t (id);")
    result = plan([tmp_path / "m.sql"], schema_file=tmp_path / "schema.sql")
    assert result.changes[0].blocking


def test_database_introspection_gives_types_sizes_and_version(pg, pg_url, tmp_path):
    from bluegreen.commands import plan
    from tests.conftest import sqlalchemy_url

    pg.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, code varchar(10) NOT NULL, "
               "n int, CONSTRAINT n_nn CHECK (n IS NOT NULL))")
    pg.execute("INSERT INTO accounts SELECT g, 'c' || g, g FROM generate_series(1, 500) g")
    pg.execute("ANALYZE accounts")
    (tmp_path / "m.sql").write_text(
        "ALTER TABLE accounts ALTER COLUMN code TYPE varchar(20);\n"
        "ALTER TABLE accounts ALTER COLUMN n SET NOT NULL;\n"
        "ALTER TABLE accounts ALTER COLUMN code TYPE varchar(5);\n")
    result = plan([tmp_path / "m.sql"], database_url=sqlalchemy_url(pg_url))
    assert result.target.version == 15
    widen, not_null, narrow = result.changes
    assert not widen.blocking and widen.phase.value == "expand"
    assert widen.table_rows == 500
    assert not not_null.blocking  # the validated check was read from the database
    assert narrow.blocking and narrow.phase.value == "contract"
