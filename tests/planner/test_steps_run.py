"""The steps the new rules write run as written on PostgreSQL (each step in its own
transaction, as ``bluegreen apply`` runs them), and leave the schema they promise."""

from __future__ import annotations

from bluegreen.commands import plan
from tests.conftest import sqlalchemy_url

SCHEMA = """
CREATE TABLE items (id bigint PRIMARY KEY, name text, data jsonb);
INSERT INTO items SELECT g, 'n' || g, jsonb_build_object('k', g) FROM generate_series(1, 500) g;
CREATE MATERIALIZED VIEW item_names AS SELECT id, name FROM items;
CREATE UNIQUE INDEX item_names_id ON item_names (id);
CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events SELECT g, DATE '2024-06-01' + (g % 400) FROM generate_series(1, 500) g;
CREATE SCHEMA archive;
"""


def _run_steps(pg, changes) -> list[str]:
    ran = []
    for change in changes:
        for step in change.steps:
            if step.sql is None:
                continue
            assert ":" + "value" not in step.sql
            pg.execute(step.sql)  # autocommit: each step is its own transaction
            ran.append(step.sql)
    return ran


def _plan(tmp_path, pg_url, sql: str, *, schema_file: bool = False):
    (tmp_path / "m.sql").write_text(sql)
    if schema_file:  # partitions are read from DDL (introspection does not list them)
        (tmp_path / "schema.sql").write_text(SCHEMA)
        return plan([tmp_path / "m.sql"], schema_file=tmp_path / "schema.sql")
    return plan([tmp_path / "m.sql"], database_url=sqlalchemy_url(pg_url))


def test_new_kinds_steps_run(pg, pg_url, tmp_path):
    pg.execute("DROP SCHEMA IF EXISTS archive CASCADE")
    pg.execute(SCHEMA)
    result = _plan(tmp_path, pg_url, """
        REFRESH MATERIALIZED VIEW item_names;
        ALTER TABLE events DETACH PARTITION events_2024;
        ALTER TABLE items ADD COLUMN code text UNIQUE;
        ALTER TABLE items ADD COLUMN score int CHECK (score >= 0);
        CREATE INDEX items_k ON items USING gin ((data -> 'k') jsonb_path_ops) WHERE id > 10;
    """)
    refresh, detach, unique, check, index = result.changes
    assert refresh.blocking and detach.phase.value == "contract"
    assert unique.blocking and check.blocking and index.blocking
    ran = _run_steps(pg, result.changes)
    assert any("CONCURRENTLY" in sql and "gin" in sql.lower() for sql in ran)
    found = pg.execute("""
        SELECT (SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_2024'::regclass),
               (SELECT count(*) FROM pg_constraint WHERE conrelid = 'items'::regclass
                  AND contype = 'u'),
               (SELECT convalidated FROM pg_constraint WHERE conrelid = 'items'::regclass
                  AND contype = 'c'),
               (SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_k'::regclass)
    """).fetchone()
    assert found == (0, 1, True, True)


def test_partitioned_index_and_new_not_null_column_steps_run(pg, pg_url, tmp_path):
    pg.execute("DROP SCHEMA IF EXISTS archive CASCADE")
    pg.execute(SCHEMA)
    result = _plan(tmp_path, pg_url, """
        CREATE INDEX events_id_idx ON events (id);
        ALTER TABLE items ADD COLUMN rank int DEFAULT 0;
        ALTER TABLE items ALTER COLUMN rank SET NOT NULL;
    """, schema_file=True)
    index, add, not_null = result.changes
    assert index.blocking and "ON ONLY" in index.steps[0].sql
    assert not_null.blocking and not_null.phase.value == "expand"
    pg.execute(add.sql)
    _run_steps(pg, [index, not_null])
    assert pg.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                      "'events_id_idx'::regclass").fetchone() == (True,)
    assert pg.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass "
                      "AND attname = 'rank'").fetchone() == (True,)


def test_set_schema_leaves_a_view_blue_can_write_through(pg, pg_url, tmp_path):
    pg.execute("DROP SCHEMA IF EXISTS archive CASCADE")
    pg.execute(SCHEMA)
    result = _plan(tmp_path, pg_url, "ALTER TABLE items SET SCHEMA archive;")
    (change,) = result.changes
    assert change.phase.value == "breaking"
    expand = [s for s in change.steps if s.phase == "expand"]
    _run_steps(pg, [type(change)(**{**change.__dict__, "steps": expand})])
    pg.execute("INSERT INTO items (id, name) VALUES (9999, 'blue')")  # blue, old name
    assert pg.execute("SELECT name FROM archive.items WHERE id = 9999").fetchone() == ("blue",)
