"""Defects nasty schemas expose (issue 10, B and C): dropped columns through reverse sync,
values that do not fit, the cutover's lock order, multi-table switches, views over a changed
type, self-referencing keys, exclusion constraints, column grants, quoted names, narrowing
casts, rare NULLs, --alter edge cases, runnable dry runs, statistics."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psycopg
import pytest
from psycopg import sql

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.core.pace import ThrottleSettings
from bluegreen.errors import BluegreenError
from tests.engines.postgresql.test_production import bluegreen_objects, cli, one_line_error
from tests.support.roles import create_roles, drop_roles
from tests.support.writers import Writer


def stop(writers: list[Writer]) -> None:
    for writer in writers:
        writer.stop()
    for writer in writers:
        assert writer.errors == [], writer.errors[:3]


def hold(writers: list[Writer]):
    class _Held:
        def __enter__(self):
            for writer in writers:
                writer.hold()

        def __exit__(self, *exc):
            for writer in writers:
                writer.release()
    return _Held()


# ---- 8. dropped columns keep their values through reverse sync ---------------------------

def docs_writer(url: str, index: int, own: list[int], legacy: dict[int, str | None]) -> Writer:
    """The app after the contract step: it never names `legacy`. Inserts, updates, key
    changes and deletes; ``legacy`` follows a row whose key changed."""
    live = list(own)
    next_id = [10_000_000 + index]

    def write(conn, rng, committed):
        roll = rng.random()
        if roll < 0.25 or not live:
            i = next_id[0]
            next_id[0] += 10
            conn.execute("INSERT INTO docs (id, title) VALUES (%s, %s)", (i, f"new{i}"))
            committed[i] = f"new{i}"
            legacy[i] = None
            live.append(i)
        elif roll < 0.7:
            i = rng.choice(live)
            title = f"u{rng.random():.6f}"
            conn.execute("UPDATE docs SET title = %s WHERE id = %s", (title, i))
            committed[i] = title
        elif roll < 0.85:
            old = live.pop(rng.randrange(len(live)))
            i = next_id[0]
            next_id[0] += 10
            conn.execute("UPDATE docs SET id = %s WHERE id = %s", (i, old))
            committed[i] = committed.get(old, f"t{old}")
            committed[old] = None
            legacy[i] = legacy.pop(old, None)
            live.append(i)
        else:
            i = live.pop(rng.randrange(len(live)))
            conn.execute("DELETE FROM docs WHERE id = %s", (i,))
            committed[i] = None
            legacy.pop(i, None)

    return Writer(url, write, f"docs-{index}", pause=0.002, prepare=False)


def test_a_dropped_column_keeps_its_values_through_reverse_sync(bg, pg):
    """Item 8: after a cutover whose alter dropped a column, writes on the new table update
    only the columns they map; after rollback no value of the dropped column was lost."""
    pg.execute("CREATE TABLE docs (id bigint PRIMARY KEY, title text NOT NULL, legacy text)")
    pg.execute("INSERT INTO docs SELECT g, 't' || g, 'L' || g FROM generate_series(1, 3000) g")
    legacy = {i: f"L{i}" for i in range(1, 3001)}
    writers = [docs_writer(bg, n, [i for i in legacy if i % 2 == n], legacy) for n in (0, 1)]
    commands.copy(bg, "docs", "ALTER TABLE docs DROP COLUMN legacy")
    commands.cutover(bg, ["docs"])
    for writer in writers:
        writer.start()
    time.sleep(2.0)
    with hold(writers):
        commands.rollback(bg, ["docs"])
        titles = {i: f"t{i}" for i in range(1, 3001)}
        for writer in writers:
            for key, title in writer.committed.items():
                if title is None:
                    titles.pop(key, None)
                else:
                    titles[key] = title
        rows = {r[0]: (r[1], r[2]) for r in pg.execute("SELECT id, title, legacy FROM docs")}
        assert rows == {k: (t, legacy.get(k)) for k, t in titles.items()}
        assert sum(1 for k in rows if k <= 3000 and rows[k][1] is None) == 0
    stop(writers)
    assert sum(w.writes for w in writers) > 100


# ---- 9. a value that does not fit the old type blocks rollback -------------------------------

def test_values_that_do_not_fit_the_old_type_are_reported_and_block_rollback(bg, pg):
    """Item 9: a value too long for the old varchar, or rounded away by the old numeric
    scale, is never cut: rollback refuses, naming the row, until it fits (or --accept-loss)."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, name varchar(5), price numeric(10, 2))")
    pg.execute("INSERT INTO t SELECT g, 'n' || g, g FROM generate_series(1, 100) g")
    commands.copy(bg, "t", "ALTER TABLE t ALTER COLUMN name TYPE text, "
                           "ALTER COLUMN price TYPE numeric(12, 4)")
    commands.cutover(bg, ["t"])
    pg.execute("UPDATE t SET name = 'twelve chars' WHERE id = 1")
    pg.execute("INSERT INTO t VALUES (1000, 'ok', 1.2345)")
    pg.execute("UPDATE t SET price = 7 WHERE id = 2")  # fits: carried back
    with pytest.raises(BluegreenError, match="cannot roll back t: 2 writes") as error:
        commands.rollback(bg, ["t"])
    assert "id = 1" in str(error.value) and "--accept-loss" in str(error.value)
    line = one_line_error(cli("rollback", "t", "--yes", "--database-url", bg))
    assert "do not fit the old shape" in line
    old = commands.status(bg, "t")[0].record.old_table
    assert pg.execute(f'SELECT name FROM "{old}" WHERE id = 1').fetchone()[0] == "n1"
    assert pg.execute(f'SELECT price FROM "{old}" WHERE id = 2').fetchone()[0] == 7
    # The app fixes the rows: the next writes fit, and rollback goes through.
    pg.execute("UPDATE t SET name = 'short' WHERE id = 1")
    pg.execute("UPDATE t SET price = 1.23 WHERE id = 1000")
    result = commands.rollback(bg, ["t"])
    assert result.warnings == []
    assert pg.execute("SELECT name FROM t WHERE id = 1").fetchone()[0] == "short"
    assert str(pg.execute("SELECT price FROM t WHERE id = 1000").fetchone()[0]) == "1.23"
    # Or the loss is accepted: rollback goes through, and the shadow is re-synced from the
    # old table, so a second cutover brings back no stale value.
    commands.cutover(bg, ["t"])
    pg.execute("UPDATE t SET name = 'far too long' WHERE id = 3")
    result = commands.rollback(bg, ["t"], accept_loss=True)
    assert any("could not be carried back" in w for w in result.warnings)
    assert pg.execute("SELECT name FROM t WHERE id = 3").fetchone()[0] == "n3"
    commands.copy(bg, "t", None, CopyOptions(sync_threshold=1))
    assert commands.verify(bg, "t").equal


# ---- 10. the cutover's lock order cannot deadlock the app -------------------------------------

FAMILY = """
CREATE TABLE parent (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0);
CREATE TABLE child (id bigserial PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id),
                    v int);
INSERT INTO parent SELECT g, g FROM generate_series(1, 500) g;
"""


def child_writer(url: str, name: str) -> Writer:
    def write(conn, rng, committed):
        row = conn.execute("INSERT INTO child (parent_id, v) VALUES (%s, %s) RETURNING id",
                           (rng.randrange(1, 501), rng.randrange(100))).fetchone()
        committed[row[0]] = True
    return Writer(url, write, name, pause=0.001, prepare=False)


def parent_writer(url: str) -> Writer:
    def write(conn, rng, committed):
        i = rng.randrange(1, 501)
        conn.execute("UPDATE parent SET v = v + 1 WHERE id = %s", (i,))
        committed[i] = committed.get(i, 0) + 1
    return Writer(url, write, "parent-writer", pause=0.002, prepare=False)


def test_the_cutover_lock_order_cannot_deadlock_the_app(bg, pg, pg_url):
    """Item 10: an app INSERT into the child locks the child, then the parent for its FK
    check. With --lock-timeout above deadlock_timeout, a switch that locked the parent first
    and then waited for the child deadlocked such a writer. Writers run on both tables while
    a short-lived lock on the parent makes every switch wait, then the switch goes on."""
    pg.execute(FAMILY)
    assert pg.execute("SHOW deadlock_timeout").fetchone()[0] == "1s"
    commands.copy(bg, "parent", "ALTER TABLE parent ADD COLUMN note text")
    writers = [child_writer(bg, f"child-{i}") for i in range(4)] + [parent_writer(bg)]
    for writer in writers:
        writer.start()
    time.sleep(0.3)
    for action in ("cutover", "rollback", "cutover", "rollback", "cutover"):
        blocker = psycopg.connect(pg_url)
        blocker.execute("SELECT count(*) FROM parent")  # AccessShare until it ends
        threading.Timer(0.5, blocker.close).start()
        getattr(commands, action)(bg, ["parent"], lock_timeout_ms=3000)
        time.sleep(0.3)
    stop(writers)
    with_errors = [w.errors[:1] for w in writers if w.errors]
    assert with_errors == []
    assert pg.execute("SELECT count(*) FROM child").fetchone()[0] == sum(
        len(w.committed) for w in writers[:4])


def test_the_lock_statement_takes_children_first_and_views_without_waiting(bg, pg):
    pg.execute(FAMILY)
    pg.execute("CREATE VIEW parent_view AS SELECT id, v FROM parent")
    commands.copy(bg, "parent", "ALTER TABLE parent ADD COLUMN note text")
    statements = commands.cutover(bg, ["parent"], dry_run=True).statements
    locks = [s for s in statements if s.startswith("LOCK TABLE")]
    # The child is waited for, holding nothing; the parent, the shadow, the queue and the
    # view are taken without waiting.
    assert '"child"' in locks[0] and '"parent"' not in locks[0]
    assert '"parent"' in locks[1] and '"parent_view"' in locks[1]
    assert locks[1].endswith("NOWAIT")


# ---- 11. a multi-table switch validates its foreign keys by OID ---------------------------------

def test_two_tables_that_reference_each_other_cycle_end_to_end(bg, pg):
    """Item 11: cutover a b, rollback a b, cutover a b, finish a b from the command line,
    writers on both; every foreign key valid and pointing at the live tables."""
    pg.execute("CREATE TABLE a (id bigint PRIMARY KEY, v int)")
    pg.execute("CREATE TABLE b (id bigint PRIMARY KEY, a_id bigint NOT NULL REFERENCES a (id), "
               "w int)")
    pg.execute("INSERT INTO a SELECT g, g FROM generate_series(1, 1000) g")
    pg.execute("INSERT INTO b SELECT g, g, g FROM generate_series(1, 1000) g")
    commands.copy(bg, "a", "ALTER TABLE a ALTER COLUMN v TYPE bigint")
    commands.copy(bg, "b", "ALTER TABLE b ALTER COLUMN w TYPE bigint")

    def pair_writer(index: int) -> Writer:
        next_id = [100_000 + index]

        def write(conn, rng, committed):
            i = next_id[0]
            next_id[0] += 2
            with conn.transaction():
                conn.execute("INSERT INTO a VALUES (%s, 1)", (i,))
                conn.execute("INSERT INTO b VALUES (%s, %s, 1)", (i, i))
            committed[i] = True
            if rng.random() < 0.3:
                gone = rng.choice(list(committed))
                with conn.transaction():
                    conn.execute("DELETE FROM b WHERE id = %s", (gone,))
                    conn.execute("DELETE FROM a WHERE id = %s", (gone,))
                committed.pop(gone)
        return Writer(bg, write, f"pair-{index}", pause=0.003, prepare=False)

    def fk_state() -> tuple:
        return pg.execute("SELECT convalidated, confrelid = 'a'::regclass, conrelid = "
                          "'b'::regclass FROM pg_constraint WHERE conname = 'b_a_id_fkey'"
                          ).fetchone()

    writers = [pair_writer(0), pair_writer(1)]
    for writer in writers:
        writer.start()
    for args in (["cutover", "a", "b", "--yes"], ["rollback", "a", "b", "--yes"],
                 ["cutover", "a", "b", "--yes"]):
        result = cli(*args, "--lock-timeout", "2000", "--database-url", bg)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert fk_state() == (True, True, True)
        time.sleep(0.3)
    result = cli("finish", "a", "b", "--yes", "--database-url", bg)
    assert result.returncode == 0, result.stderr
    stop(writers)
    assert fk_state() == (True, True, True)
    assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT "
                      "convalidated").fetchone()[0] == 0
    expected = 1000 + sum(len(w.committed) for w in writers)
    assert pg.execute("SELECT count(*) FROM a").fetchone()[0] == expected
    assert pg.execute("SELECT count(*) FROM b").fetchone()[0] == expected
    assert bluegreen_objects(pg) == []


# ---- 12. a view over a column whose type changes ----------------------------------------------

@pytest.fixture
def reader(pg, pg_url):
    made = create_roles(pg_url)
    try:
        yield made.app
    finally:
        drop_roles(pg_url, made)


def test_a_view_over_a_changed_type_is_recreated_with_what_it_had(bg, pg, reader):
    """Item 12: the view is dropped and created again (42P16), with its grants (grant option
    included), comments, options and owner."""
    pg.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int NOT NULL, b text)")
    pg.execute("INSERT INTO items SELECT g, g, 'x' FROM generate_series(1, 100) g")
    pg.execute("CREATE VIEW item_a WITH (security_barrier) AS SELECT id, a FROM items "
               "WHERE a > 10")
    pg.execute("COMMENT ON VIEW item_a IS 'the a of items'")
    pg.execute("COMMENT ON COLUMN item_a.a IS 'widened'")
    pg.execute(sql.SQL("GRANT SELECT ON item_a TO {} WITH GRANT OPTION").format(
        sql.Identifier(reader)))
    commands.copy(bg, "items", "ALTER TABLE items ALTER COLUMN a TYPE bigint")

    def facts() -> tuple:
        return pg.execute(
            "SELECT format_type(atttypid, atttypmod), c.reloptions, obj_description(c.oid, "
            "'pg_class'), col_description(c.oid, 2), has_table_privilege(%s, c.oid, "
            "'SELECT WITH GRANT OPTION'), pg_get_userbyid(c.relowner) FROM pg_class c JOIN "
            "pg_attribute a ON a.attrelid = c.oid AND a.attname = 'a' WHERE c.relname = "
            "'item_a'", (reader,)).fetchone()

    before = facts()
    commands.cutover(bg, ["items"])
    after = facts()
    assert after[0] == "bigint" and after[1:] == before[1:]
    assert pg.execute("SELECT count(*) FROM item_a").fetchone()[0] == 90
    commands.rollback(bg, ["items"])
    assert facts() == before
    commands.cutover(bg, ["items"])
    commands.finish(bg, ["items"])
    assert facts() == after


# ---- 13. self-referencing keys, exclusion constraints, column grants, quoted names -------------

def test_a_self_referencing_foreign_key_is_carried(bg, pg):
    """Item 13: the shadow's key points at the shadow (deferred while replay writes it);
    cutover gives the new table its own timing; rollback the old one."""
    pg.execute("CREATE TABLE tree (id bigint PRIMARY KEY, parent_id bigint REFERENCES tree (id) "
               "ON DELETE CASCADE, v int)")
    pg.execute("INSERT INTO tree SELECT g, CASE WHEN g > 1 THEN g / 2 END, g "
               "FROM generate_series(1, 2000) g")
    commands.copy(bg, "tree", "ALTER TABLE tree ADD COLUMN note text", CopyOptions(
        chunk_size=300))
    # Changes while the copy is synced: a subtree deleted, children re-parented.
    pg.execute("DELETE FROM tree WHERE id = 3")
    pg.execute("UPDATE tree SET parent_id = 1 WHERE id BETWEEN 900 AND 950")
    commands.copy(bg, "tree", None, CopyOptions(sync_threshold=1, replay_batch=7))
    assert commands.verify(bg, "tree").equal

    def fk() -> tuple:
        return pg.execute("SELECT confrelid = conrelid, conrelid = 'tree'::regclass, "
                          "convalidated, condeferrable FROM pg_constraint WHERE conname = "
                          "'tree_parent_id_fkey'").fetchone()

    commands.cutover(bg, ["tree"])
    assert fk() == (True, True, True, False)
    pg.execute("INSERT INTO tree VALUES (5000, 1, 1, 'n'), (5001, 5000, 1, 'n')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO tree VALUES (5002, 999999, 1, 'n')")
    pg.execute("DELETE FROM tree WHERE id = 5000")  # cascades to 5001, in both tables
    commands.rollback(bg, ["tree"])
    assert fk() == (True, True, True, False)
    count = pg.execute("SELECT count(*) FROM tree").fetchone()[0]
    commands.cutover(bg, ["tree"])
    commands.finish(bg, ["tree"])
    assert fk() == (True, True, True, False)
    assert pg.execute("SELECT count(*) FROM tree").fetchone()[0] == count
    assert bluegreen_objects(pg) == []


def test_an_exclusion_constraint_is_carried(bg, pg):
    """Item 13."""
    pg.execute("CREATE TABLE booking (id bigint PRIMARY KEY, room int NOT NULL, during "
               "int4range NOT NULL, CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&))")
    pg.execute("INSERT INTO booking SELECT g, 1, int4range(g * 10, g * 10 + 5) "
               "FROM generate_series(1, 500) g")
    result = commands.copy(bg, "booking", "ALTER TABLE booking ADD COLUMN note text")
    assert not any("no_overlap" in w for w in result.warnings), result.warnings
    commands.cutover(bg, ["booking"])
    with pytest.raises(psycopg.errors.ExclusionViolation):
        pg.execute("INSERT INTO booking VALUES (9999, 1, int4range(11, 13))")
    assert pg.execute("SELECT conrelid = 'booking'::regclass FROM pg_constraint WHERE "
                      "conname = 'no_overlap'").fetchone()[0]


def test_column_grants_follow_the_table(bg, pg, reader):
    """Item 13: GRANT SELECT (col) survives cutover, rollback and finish, under a renamed
    column's new name."""
    pg.execute("CREATE TABLE people (id bigint PRIMARY KEY, email text, secret text)")
    pg.execute(sql.SQL("GRANT SELECT (id, email) ON people TO {}").format(
        sql.Identifier(reader)))
    commands.copy(bg, "people", "ALTER TABLE people RENAME COLUMN email TO mail")

    def can(column: str) -> bool:
        return pg.execute("SELECT has_column_privilege(%s, 'people', %s, 'SELECT')",
                          (reader, column)).fetchone()[0]

    commands.cutover(bg, ["people"])
    assert can("mail") and can("id") and not can("secret")
    commands.rollback(bg, ["people"])
    assert can("email") and can("id") and not can("secret")
    commands.cutover(bg, ["people"])
    commands.finish(bg, ["people"])
    assert can("mail") and not can("secret")


def test_a_quoted_name_with_a_dot_is_one_table(bg, pg):
    """Item 13: '"we.ird"' is the table we.ird in public, not table ird in schema we."""
    pg.execute('CREATE TABLE "we.ird" (id bigint PRIMARY KEY, v int)')
    pg.execute('INSERT INTO "we.ird" SELECT g, g FROM generate_series(1, 100) g')
    result = cli("copy", '"we.ird"', "--alter", 'ALTER TABLE "we.ird" ALTER COLUMN v TYPE '
                 "bigint", "--database-url", bg)
    assert result.returncode == 0, result.stderr
    for step in ("cutover", "finish"):
        result = cli(step, '"we.ird"', "--yes", "--database-url", bg)
        assert result.returncode == 0, result.stderr
    assert pg.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                      "attrelid = '\"we.ird\"'::regclass AND attname = 'v'").fetchone()[0] \
        == "bigint"
    assert '"we.ird"' in cli("status", "--all", "--database-url", bg).stdout


# ---- 14. a narrowing type change stops, naming the row ------------------------------------------

def test_a_narrowing_type_change_stops_on_a_value_that_does_not_fit(bg, pg):
    """Item 14: the copy casts as the ALTER would (an assignment cast, which fails on a value
    too long), so nothing is cut: one line names the row; after fixing it the copy goes on."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, code text)")
    pg.execute("INSERT INTO t SELECT g, 'c' || (g % 10) FROM generate_series(1, 8000) g")
    pg.execute("UPDATE t SET code = 'toolong' WHERE id = 6789")
    alter = "ALTER TABLE t ALTER COLUMN code TYPE varchar(3)"
    line = one_line_error(cli("copy", "t", "--alter", alter, "--chunk-size", "500",
                              "--database-url", bg))
    assert "id = 6789" in line and "too long" in line
    (record,) = [r.record for r in commands.status(bg)] or [None]
    if record is not None and record.state == "copying":  # stopped in the backfill
        assert "bluegreen abort t" in line
        longest = pg.execute(f'SELECT max(length(code)) FROM "{record.shadow_table}"'
                             ).fetchone()[0]
        assert longest is None or longest <= 3
    pg.execute("UPDATE t SET code = 'ok' WHERE id = 6789")
    result = cli("copy", "t", "--alter", alter, "--database-url", bg)
    assert result.returncode == 0, result.stderr
    assert commands.verify(bg, "t").equal


# ---- 15. SET NOT NULL with rare NULLs ----------------------------------------------------------

def test_set_not_null_is_checked_exactly_and_never_wedges(bg, pg):
    """Item 15: a rare NULL is found before anything is created; a NULL the app writes during
    the copy stops it with the row named and the way out (fix the row or abort), and the
    copy resumes once the row is fixed."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, v int)")
    pg.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 30000) g")
    pg.execute("UPDATE t SET v = NULL WHERE id = 23456")
    alter = "ALTER TABLE t ALTER COLUMN v SET NOT NULL"
    line = one_line_error(cli("copy", "t", "--alter", alter, "--database-url", bg))
    assert "v is NULL in the row with id = 23456" in line
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
    assert bluegreen_objects(pg) == []
    # Throttled, the check walks the key in chunks at the copy's rate.
    line = one_line_error(cli("copy", "t", "--alter", alter, "--max-rows-per-second",
                              "200000", "--database-url", bg))
    assert "id = 23456" in line
    pg.execute("UPDATE t SET v = 0 WHERE id = 23456")
    proc = subprocess.Popen([sys.executable, "-m", "bluegreen", "copy", "t", "--alter", alter,
                             "--chunk-size", "500", "--max-rows-per-second", "10000",
                             "--database-url", bg], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pg.execute("INSERT INTO t VALUES (99999, NULL)")  # the app, during the copy
    _, err = proc.communicate(timeout=120)
    line = one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, "", err))
    assert "id = 99999" in line and "bluegreen abort t" in line
    assert "null" in line.lower()
    pg.execute("UPDATE t SET v = 1 WHERE id = 99999")
    result = commands.copy(bg, "t", None, CopyOptions(sync_threshold=1))
    assert result.record.state == "synced" and result.backlog == 0
    assert commands.verify(bg, "t").equal


# ---- 17. --alter edge cases and runnable dry runs ---------------------------------------------

def test_dropping_and_renaming_constraints_in_the_alter(bg, pg):
    """Item 17: DROP CONSTRAINT and RENAME CONSTRAINT name the live table's constraints;
    they apply to the shadow's (built after the backfill)."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, code text CONSTRAINT t_code_key UNIQUE, "
               "tag text CONSTRAINT t_tag_key UNIQUE, n int CONSTRAINT t_n_check CHECK (n > 0))")
    pg.execute("INSERT INTO t SELECT g, 'c' || g, 't' || g, g FROM generate_series(1, 200) g")
    commands.copy(bg, "t", "ALTER TABLE t DROP CONSTRAINT t_code_key, DROP CONSTRAINT "
                           "t_n_check; ALTER TABLE t RENAME CONSTRAINT t_tag_key TO t_tag_uq")

    def constraints() -> set:
        return {r[0] for r in pg.execute("SELECT conname FROM pg_constraint WHERE conrelid = "
                                         "'t'::regclass")}

    commands.cutover(bg, ["t"])
    assert constraints() == {"t_pkey", "t_tag_uq"}
    pg.execute("INSERT INTO t VALUES (1000, 'c1', 'fresh', -1)")  # code and n are free now
    # ... but that row does not fit the old table (its unique code, its check): rollback
    # refuses until it does.
    with pytest.raises(BluegreenError, match="cannot roll back t"):
        commands.rollback(bg, ["t"])
    pg.execute("UPDATE t SET code = 'c1000', n = 5 WHERE id = 1000")
    commands.rollback(bg, ["t"])
    assert constraints() == {"t_pkey", "t_code_key", "t_tag_key", "t_n_check"}
    pg.execute("DELETE FROM t WHERE id = 1000")
    commands.cutover(bg, ["t"])
    commands.finish(bg, ["t"])
    assert constraints() == {"t_pkey", "t_tag_uq"}


@pytest.mark.parametrize(("alter", "message"), [
    ("ALTER TABLE t DROP CONSTRAINT t_pkey", "drops the primary key t_pkey"),
    ("", "--alter is empty"),
    ("ALTER TABLE t ALTER COLUMN v TYPE integer", "changes nothing"),
    ("ALTER TABLE t ALTER COLUMN v SET DEFAULT 5", None),  # a real change
])
def test_alters_the_copy_cannot_use_are_refused_before_anything_is_created(bg, pg, alter,
                                                                           message):
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, v int)")
    pg.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 50) g")
    if message is None:
        assert commands.copy(bg, "t", alter).record.state == "synced"
        return
    line = one_line_error(cli("copy", "t", "--alter", alter, "--database-url", bg))
    assert message in line
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
    assert bluegreen_objects(pg) == []


def _psql(conninfo: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
                          input=script, capture_output=True, text=True, timeout=60)


def test_cutover_and_rollback_dry_runs_run_as_pasted(bg, pg, pg_url):
    """Item 17: the printed SQL, pasted into psql, does the switch (in one transaction, with
    the state recorded), and bluegreen carries on from there."""
    pg.execute("CREATE TABLE accounts (id serial PRIMARY KEY, name text, score int)")
    pg.execute("CREATE TABLE orders (id serial PRIMARY KEY, account_id int REFERENCES "
               "accounts (id))")
    pg.execute("CREATE VIEW top AS SELECT id, score FROM accounts WHERE score > 50")
    pg.execute("INSERT INTO accounts (name, score) SELECT 'a' || g, g % 100 FROM "
               "generate_series(1, 300) g")
    pg.execute("INSERT INTO orders (account_id) SELECT g FROM generate_series(1, 300) g")
    commands.copy(bg, "accounts", "ALTER TABLE accounts ALTER COLUMN score TYPE bigint")
    pg.execute("UPDATE accounts SET name = 'queued' WHERE id = 7")  # left in the queue
    dry = cli("cutover", "accounts", "--dry-run", "--database-url", bg)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("BEGIN;") and "COMMIT;" in dry.stdout
    pasted = _psql(pg_url, dry.stdout)
    assert pasted.returncode == 0, pasted.stderr
    assert commands.status(bg, "accounts")[0].record.state == "cut_over"
    assert pg.execute("SELECT name FROM accounts WHERE id = 7").fetchone()[0] == "queued"
    assert pg.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                      "attrelid = 'accounts'::regclass AND attname = 'score'").fetchone()[0] \
        == "bigint"
    assert pg.execute("SELECT convalidated AND confrelid = 'accounts'::regclass FROM "
                      "pg_constraint WHERE conname = 'orders_account_id_fkey'").fetchone()[0]
    pg.execute("INSERT INTO accounts (name, score) VALUES ('green', 99)")  # reverse-synced
    dry = cli("rollback", "accounts", "--dry-run", "--database-url", bg)
    assert dry.returncode == 0, dry.stderr
    pasted = _psql(pg_url, dry.stdout)
    assert pasted.returncode == 0, pasted.stderr
    assert commands.status(bg, "accounts")[0].record.state == "rolled_back"
    assert pg.execute("SELECT count(*) FROM accounts WHERE name = 'green'").fetchone()[0] == 1
    commands.cutover(bg, ["accounts"])
    dry = cli("finish", "accounts", "--dry-run", "--database-url", bg)
    assert _psql(pg_url, dry.stdout).returncode == 0
    assert bluegreen_objects(pg) == []


# ---- 18. the new table goes live with statistics -------------------------------------------

def test_the_new_table_goes_live_with_statistics(bg, pg):
    """Item 18: the shadow is vacuumed (visibility map) and analyzed before cutover."""
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, v int, w text)")
    pg.execute("INSERT INTO t SELECT g, g % 7, 'w' || g FROM generate_series(1, 20000) g")
    commands.copy(bg, "t", "ALTER TABLE t ALTER COLUMN v TYPE bigint")
    shadow = commands.status(bg, "t")[0].record.shadow_table
    reltuples, allvisible = pg.execute("SELECT reltuples, relallvisible FROM pg_class WHERE "
                                       "relname = %s", (shadow,)).fetchone()
    assert reltuples == 20000 and allvisible > 0
    assert pg.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", (shadow,)
                      ).fetchone()[0] == 3
    commands.cutover(bg, ["t"])
    assert pg.execute("SELECT n_distinct FROM pg_stats WHERE tablename = 't' AND attname = "
                      "'v'").fetchone()[0] == 7


def test_writers_on_a_copy_with_throttle_and_everything(bg, pg):
    """A smoke run of the throttled copy with writers, as the items above changed it."""
    from tests.support.items import expected_rows, item_writers, live_rows, seed_items

    seeds = seed_items(pg, 5000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    commands.copy(bg, "items", "ALTER TABLE items ADD COLUMN d text", CopyOptions(
        chunk_size=500, throttle=ThrottleSettings(max_rows_per_second=20_000)))
    commands.cutover(bg, ["items"])
    time.sleep(0.3)
    stop(writers)
    assert live_rows(pg) == expected_rows(seeds, writers)
