"""bluegreen apply and revert on PostgreSQL, with the apps writing throughout: the shop
example taken expand -> contract while blue and then green write, reruns that change
nothing, --dry-run equal to what runs, and revert back to the schema before expand."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from bluegreen import commands
from bluegreen.core.apply.model import ApplyPhase
from bluegreen.core.apply.runner import ApplyOptions
from tests.conftest import admin_url
from tests.support import shop

LOCK_TIMEOUT_MS = 300


def options(phase: str = "expand", **kw) -> ApplyOptions:
    return ApplyOptions(phase=ApplyPhase(phase), lock_timeout_ms=LOCK_TIMEOUT_MS, retries=50,
                        **kw)


@pytest.fixture
def fresh_db(pg_url):
    """A second, empty database on the same server (for `alembic upgrade head` alone)."""
    from tests.conftest import _with_dbname, sqlalchemy_url

    name = f"bluegreen_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(_with_dbname(pg_url, name))
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def catalog(conn: psycopg.Connection) -> tuple:
    """Everything a rerun must leave as it was: the app's schema and version, and
    bluegreen's own records."""
    return (shop.schema_signature(conn),
            conn.execute("SELECT * FROM alembic_version").fetchall(),
            conn.execute("SELECT * FROM bluegreen.apply_revisions ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM bluegreen.apply_steps ORDER BY revision_id, phase, seq"
                         ).fetchall(),
            conn.execute("SELECT * FROM bluegreen.migrations ORDER BY id").fetchall())


def test_the_shop_example_expand_then_contract_with_blue_then_green_writing(bg, pg, fresh_db):
    # The app ran its own `alembic upgrade` up to 0002; 0003-0005 go through bluegreen.
    shop.alembic_upgrade(bg, "0002")
    shop.seed(pg)
    blue, green = shop.blue(bg), shop.green(bg)
    blue.start()
    time.sleep(0.3)
    expand = commands.apply([shop.VERSIONS], bg, options=options("expand"))
    assert expand.already_applied == ["0001", "0002"]
    assert expand.revisions_done == ["0003", "0004", "0005"] and expand.steps_run == 9
    # The new app deploys; both versions run side by side; then blue is retired.
    green.start()
    time.sleep(0.6)
    blue.stop()
    rerun = catalog(pg)
    again = commands.apply([shop.VERSIONS], bg, options=options("expand"))
    assert again.nothing_to_do and catalog(pg) == rerun
    contract = commands.apply([shop.VERSIONS], bg, options=options("contract"))
    assert contract.steps_run == 6 and contract.stamped == "0005"
    time.sleep(0.4)
    green.stop()
    assert blue.errors == [] and green.errors == [], (blue.errors[:3], green.errors[:3])
    assert blue.writes > 50 and green.writes > 50
    # Nothing lost: what blue and green committed, by the name each app used.
    assert shop.actual(pg, "contact_email") == shop.expected(blue, green)
    # Every lock wait ended within the lock timeout, and the migration then retried.
    for attempts, waited in pg.execute("SELECT attempts, lock_wait_ms FROM "
                                       "bluegreen.apply_steps WHERE status = 'done'"):
        assert waited <= max(attempts - 1, 0) * (LOCK_TIMEOUT_MS + 500), (attempts, waited)
    assert shop.leftovers(pg) == []
    # The same schema as a plain `alembic upgrade head` (names of constraints and indexes
    # aside), and Alembic has nothing left to run.
    shop.alembic_upgrade(fresh_db, "head")
    with psycopg.connect(fresh_db) as fresh:
        assert shop.schema_signature(pg) == shop.schema_signature(fresh)
    before = catalog(pg)
    shop.alembic_upgrade(bg, "head")
    assert catalog(pg) == before
    rerun = commands.apply([shop.VERSIONS], bg, options=options("contract"))
    assert rerun.nothing_to_do and rerun.already_applied == ["0001", "0002", "0003", "0004",
                                                             "0005"]
    assert catalog(pg) == before


def test_dry_run_prints_the_sql_the_real_run_records(bg, pg, fresh_db):
    shop.alembic_upgrade(bg, "0002")
    shop.seed(pg)
    shop.alembic_upgrade(fresh_db, "0002")
    for phase in ("expand", "contract"):
        dry = commands.apply([shop.VERSIONS], bg, options=options(phase), dry_run=True)
        assert pg.execute("SELECT count(*) FROM bluegreen.apply_steps WHERE status <> "
                          "'pending'").fetchone()[0] == (0 if phase == "expand" else 9)
        commands.apply([shop.VERSIONS], bg, options=options(phase))
        recorded = [r[0] for r in pg.execute(
            "SELECT s.sql FROM bluegreen.apply_steps s JOIN bluegreen.apply_revisions r ON "
            "r.id = s.revision_id WHERE s.phase = %s ORDER BY r.id, s.seq", (phase,))]
        assert [s.script for s in dry.scripts] == recorded and recorded
        if phase == "expand":
            expand_scripts = [s.script for s in dry.scripts]
    # They run as pasted into psql: every SQL step of expand, on a copy of the database at
    # 0002 (a batched step shows one range with psql variables; a copy is a command).
    pasteable = [s for s in expand_scripts if ":'lo_" not in s and not s.startswith("--")]
    assert len(pasteable) == 6
    psql = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "--dbname", fresh_db],
                          input="\n".join(pasteable), capture_output=True, text=True)
    assert psql.returncode == 0, psql.stderr


def test_revert_after_expand_restores_the_schema_while_blue_writes(bg, pg):
    shop.alembic_upgrade(bg, "0002")
    shop.seed(pg)
    before = pg_dump(bg)
    blue, green = shop.blue(bg), shop.green(bg, big_totals=False)
    blue.start()
    commands.apply([shop.VERSIONS], bg, options=options("expand"))
    green.start()  # the release goes out, and goes wrong
    time.sleep(0.6)
    green.stop()
    asked = []
    result = commands.revert([shop.VERSIONS], bg, options=options(),
                             confirm=lambda plan: asked.append(plan) or True)
    assert result.steps_undone == 9 and asked == []  # contact_email only mirrors email
    time.sleep(0.3)
    blue.stop()
    assert blue.errors == [] and green.errors == [], (blue.errors[:3], green.errors[:3])
    assert pg_dump(bg) == before
    # Green's writes are in blue's columns: the way back lost nothing.
    assert shop.actual(pg, "email") == shop.expected(blue, green)
    assert shop.leftovers(pg) == []
    states = pg.execute("SELECT expand_state, contract_state FROM bluegreen.apply_revisions "
                        "ORDER BY id").fetchall()
    assert states == [("reverted", "pending")] * 3
    # Reverted revisions are planned afresh by the next apply.
    again = commands.apply([shop.VERSIONS], bg, options=options("expand"))
    assert again.steps_run == 9


def test_revert_refuses_once_contract_has_started(bg, pg):
    from bluegreen.errors import ContractStarted

    shop.alembic_upgrade(bg, "0002")
    commands.apply([shop.VERSIONS], bg, options=options("expand"))
    commands.apply([shop.VERSIONS], bg, options=options("contract"), to_rev="0003")
    with pytest.raises(ContractStarted, match="revision 0003: its contract phase has started"):
        commands.revert([shop.VERSIONS], bg, options=options(), to_rev="0003")


def pg_dump(url: str) -> str:
    out = subprocess.run(["pg_dump", "--schema-only", "--exclude-schema=bluegreen",
                          "--no-owner", "--dbname", url], capture_output=True, text=True,
                         check=True).stdout
    # Comments, and pg_dump's per-run \restrict key, differ between any two dumps.
    return "\n".join(line for line in out.splitlines()
                     if not line.startswith(("--", "\\restrict", "\\unrestrict")))


def test_status_shows_revisions_and_their_steps(bg, pg):
    shop.alembic_upgrade(bg, "0002")
    commands.apply([shop.VERSIONS], bg, options=options("expand"))
    rows = {r["revision"]: r for r in commands.apply_status(bg)}
    assert rows["0003"]["expand"] == "done" and rows["0003"]["expand_steps"] == [7, 7]
    assert rows["0003"]["contract_steps"] == [0, 4]
    assert json.dumps(rows)  # plain data
