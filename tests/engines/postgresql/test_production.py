"""Production is not one superuser (issue 10, A): bluegreen runs as the table's owner, the app
writes as its own DML-only role, URLs carry passwords, other sessions drop and re-create
tables, two runs race, and every fault is one line with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.errors import BluegreenError
from tests.support.items import expected_rows, item_writers, live_rows, seed_items
from tests.support.roles import create_roles, drop_roles
from tests.support.writers import Writer

TYPE_ALTER = "ALTER TABLE items ALTER COLUMN a TYPE bigint, ADD COLUMN d text DEFAULT 'x'"


@pytest.fixture
def roles(pg, pg_url):
    made = create_roles(pg_url)
    try:
        yield made
    finally:
        drop_roles(pg_url, made)


def cli(*args: str, timeout: float = 120, env: dict | None = None
        ) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("BLUEGREEN_DATABASE_URL", None)
    full_env.pop("DATABASE_URL", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def secret_forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote(secret)]


def assert_no_secret(outputs: list[str], secrets: list[str]) -> None:
    for text in outputs:
        for secret in secrets:
            for form in secret_forms(secret):
                assert form not in text, f"a password appears in: {text[:300]!r}"
            # Nor a tail of it, as a URL parsed at the first '@' would show.
            assert secret.split("@", 1)[-1] not in text, text[:300]


def bluegreen_objects(conn) -> list:
    return conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE '\\_bg%%' UNION ALL "
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'bluegreen' AND (relname LIKE 'queue%%' OR relname LIKE "
        "'unsynced%%') UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE "
        "'bluegreen%%' UNION ALL SELECT proname FROM pg_proc p JOIN pg_namespace n ON "
        "n.oid = p.pronamespace WHERE n.nspname = 'bluegreen'").fetchall()


def notes_writer(conninfo: str, item_ids: list[int]) -> Writer:
    """The app's second table: notes on items (a serial key, a foreign key to items)."""
    def write(conn, rng, committed):
        note_id = conn.execute("INSERT INTO item_notes (item_id, note) VALUES (%s, %s) "
                               "RETURNING id", (rng.choice(item_ids), "n")).fetchone()[0]
        committed[note_id] = "n"
        conn.execute("SELECT count(*) FROM item_view WHERE id = %s", (rng.choice(item_ids),))
    return Writer(conninfo, write, "notes-writer", pause=0.005, prepare=False)


@pytest.mark.parametrize("typed", [False, True], ids=["encoded-url", "typed-url"])
def test_full_cycle_as_owner_with_a_dml_only_app_role_and_no_password_anywhere(roles, pg,
                                                                               typed):
    """Items 1 and 5: copy, cutover, rollback, cutover, finish run by the table's owner (not a
    superuser) from the command line over a URL whose password holds '@' and ':' (as typed,
    or percent-encoded), while the app writes as a role with DML rights only; no app write
    fails, and no output carries the password."""
    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")  # the owner creates its own
    with psycopg.connect(roles.owner_conninfo(), autocommit=True) as owner:
        seeds = seed_items(owner, 4000)
        reserved = list(range(900_001, 900_101))  # items the notes point at; writers keep off
        owner.execute("INSERT INTO items SELECT g, 1, 'reserved', 1 FROM unnest(%s::bigint[]) g",
                      (reserved,))
        owner.execute("CREATE TABLE item_notes (id serial PRIMARY KEY, item_id bigint NOT NULL "
                      "REFERENCES items (id), note text)")
        owner.execute("CREATE VIEW item_view AS SELECT id, a FROM items")
        owner.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON items, item_notes TO {app}; "
                              "GRANT USAGE ON SEQUENCE item_notes_id_seq TO {app}; "
                              "GRANT SELECT ON item_view TO {app}").format(
            app=sql.Identifier(roles.app)))
    seeds.update({i: (1, "reserved", 1) for i in reserved})
    writers = item_writers(roles.app_conninfo(), {k: v for k, v in seeds.items()
                                                  if k not in reserved}, count=2,
                           prepare=False)
    notes = notes_writer(roles.app_conninfo(), reserved)
    url = roles.owner_url() if typed else roles.encoded_owner_url()
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess:
        result = cli(*args, "--database-url", url)
        outputs.append(result.stdout + result.stderr)
        assert result.returncode == 0, (args, result.stderr)
        return result

    def check() -> None:
        everyone = [*writers, notes]
        for writer in everyone:
            writer.hold()
        try:
            expected = expected_rows(seeds, writers)
            assert live_rows(pg) == expected
            assert not notes.errors and not any(w.errors for w in writers), \
                [w.errors[:2] for w in everyone]
        finally:
            for writer in everyone:
                writer.release()

    run("init")
    for writer in [*writers, notes]:
        writer.start()
    time.sleep(0.3)
    run("copy", "items", "--alter", TYPE_ALTER, "--chunk-size", "500")
    run("copy", "items", "--format", "json")  # resume of a synced copy: changes nothing
    run("status", "items", "--format", "json")
    assert json.loads(run("verify", "items", "--format", "json").stdout)["equal"]
    run("cutover", "items", "--dry-run")
    data = json.loads(run("cutover", "items", "--yes", "--format", "json").stdout)
    assert data["states"] == {"items": "cut_over"}
    time.sleep(0.5)
    check()
    run("rollback", "items", "--yes")
    time.sleep(0.5)
    check()
    run("cutover", "items", "--yes")
    time.sleep(0.5)
    check()
    run("finish", "items", "--yes", "--format", "json")
    time.sleep(0.3)
    check()
    for writer in [*writers, notes]:
        writer.stop()
    assert sum(w.writes for w in writers) > 100 and notes.writes > 20
    assert_no_secret(outputs, roles.secrets)
    # The app needed no grant it did not have.
    assert not pg.execute("SELECT has_schema_privilege(%s, 'bluegreen', 'USAGE')",
                          (roles.app,)).fetchone()[0]
    assert bluegreen_objects(pg) == []
    assert pg.execute("SELECT count(*) FROM item_notes").fetchone()[0] == len(notes.committed)


def test_no_password_in_errors_json_or_the_demo(roles, pg):
    """Item 5: errors that echo a URL, the ?password= form, JSON output and the demo."""
    base = f"{roles.host}:{roles.port}/{roles.dbname}"
    secret = roles.owner_password
    outputs = []
    for args in (
        ["status", "--database-url", f"postgresql://{roles.owner}:{secret}@{roles.host}:"
                                     f"notaport/{roles.dbname}"],
        ["status", "--database-url", f"postgresql://{roles.owner}:{secret}@{base}?foo=bar"],
        ["status", "--database-url", f"postgresql://{roles.owner}@{base}x?password="
                                     f"{quote(secret, safe='')}"],
        ["status", "--database-url", f"postgresql://{roles.owner}:{secret}@{roles.host}:1/x"],
        ["copy", "nope", "--alter", "ALTER TABLE nope ADD COLUMN x int", "--database-url",
         roles.owner_url()],
    ):
        result = cli(*args)
        one_line_error(result)
        outputs.append(result.stdout + result.stderr)
    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    assert cli("init", "--database-url", roles.owner_url()).returncode == 0
    for output in ("text", "json"):
        demo = cli("demo", "--database-url", roles.owner_url(), "--rows", "2000", "--format",
                   output, timeout=300)
        assert demo.returncode == 0, demo.stderr
        outputs.append(demo.stdout + demo.stderr)
    summary = json.loads(demo.stdout.strip().splitlines()[-1])
    assert "***" in summary["database_url"]
    assert_no_secret(outputs, roles.secrets)


def test_a_table_dropped_and_recreated_is_not_copied_or_switched(bg, pg):
    """Item 2: identity by OID, checked on resume, verify, cutover, rollback and finish."""
    seed_items(pg, 2000)
    commands.copy(bg, "items", TYPE_ALTER, CopyOptions(chunk_size=500))
    pg.execute("DROP TABLE items CASCADE")
    seed_items(pg, 300)  # someone else's table, under the same name
    for action in (lambda: commands.copy(bg, "items", None),
                   lambda: commands.verify(bg, "items"),
                   lambda: commands.cutover(bg, ["items"])):
        with pytest.raises(BluegreenError, match="bluegreen abort items") as error:
            action()
        assert "not the table this migration started with" in str(error.value)
    result = cli("copy", "items", "--database-url", bg)
    assert "bluegreen abort items" in one_line_error(result)
    record, _ = commands.abort(bg, "items")
    assert record.state == "aborted"
    assert len(live_rows(pg)) == 300  # the new table is untouched
    assert bluegreen_objects(pg) == []
    # After cutover: the new live table replaced by someone else.
    commands.copy(bg, "items", TYPE_ALTER)
    commands.cutover(bg, ["items"])
    pg.execute("ALTER TABLE items RENAME TO items_moved")
    pg.execute("CREATE TABLE items (id bigint PRIMARY KEY, a int, b text, c int)")
    for action in (lambda: commands.rollback(bg, ["items"]),
                   lambda: commands.finish(bg, ["items"])):
        with pytest.raises(BluegreenError, match="not the table this migration started with"):
            action()
    record, _ = commands.abort(bg, "items")
    assert record.state == "aborted"
    assert pg.execute("SELECT count(*) FROM items_moved").fetchone()[0] == 300


def _rows_copied(conn) -> int:
    row = conn.execute("SELECT rows_copied FROM bluegreen.migrations ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    return row[0] if row else 0


def _copy_process(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bluegreen", "copy", "items",
                             "--database-url", url, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_copy_of_the_same_table_says_who_holds_it(bg, pg):
    """Item 3: one worker per migration; the second run names pid, host and since when."""
    seed_items(pg, 20_000)
    first = _copy_process(bg, "--alter", TYPE_ALTER, "--chunk-size", "500",
                          "--max-rows-per-second", "8000")
    _wait_for(lambda: _rows_copied(pg) > 1000)
    second = cli("copy", "items", "--database-url", bg)
    line = one_line_error(second)
    assert "already running" in line and f"pid {first.pid}" in line
    assert socket.gethostname() in line and " since " in line
    # Started at the same moment with the same --alter, it is refused too.
    third = cli("copy", "items", "--alter", TYPE_ALTER, "--database-url", bg)
    assert "already running" in one_line_error(third)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    (status,) = commands.status(bg, "items")
    assert status.record.rows_copied == 20_000
    assert pg.execute(f'SELECT count(*) FROM "{status.record.shadow_table}"').fetchone()[0] \
        == 20_000


def test_abort_while_a_copy_runs_stops_the_copy_in_one_line(bg, pg):
    """Item 4."""
    seed_items(pg, 20_000)
    proc = _copy_process(bg, "--alter", TYPE_ALTER, "--chunk-size", "300",
                         "--max-rows-per-second", "5000")
    _wait_for(lambda: _rows_copied(pg) > 600)
    aborted = cli("abort", "items", "--yes", "--database-url", bg)
    assert aborted.returncode == 0, aborted.stderr
    _, err = proc.communicate(timeout=30)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    assert "was aborted" in one_line_error(result)
    assert bluegreen_objects(pg) == []
    assert pg.execute("SELECT count(*) FROM bluegreen.chunks").fetchone()[0] == 0


def test_faults_are_one_line_with_exit_2(bg, pg, pg_url, roles):
    """Item 6: bad URLs, init without CREATE, a failing throttle query, bluegreen's own
    tables."""
    seed_items(pg, 100)
    base = bg.rsplit("@", 1)[1]
    assert "port must be a number" in one_line_error(cli(
        "status", "--database-url", f"postgresql://postgres@{base.split(':')[0]}:notaport/x"))
    assert "unknown connection parameter 'foo'" in one_line_error(cli(
        "status", "--database-url", bg + "?foo=bar"))
    # A role with no CREATE on the database, and no schema made for it.
    pg.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM {}").format(
        sql.Identifier(roles.dbname), sql.Identifier(roles.owner)))
    pg.execute("DROP SCHEMA bluegreen CASCADE")
    line = one_line_error(cli("init", "--database-url", roles.owner_url()))
    assert "cannot create bluegreen's state tables" in line and "GRANT CREATE" in line
    commands.init(bg)
    line = one_line_error(cli("copy", "items", "--alter", TYPE_ALTER, "--throttle-query",
                              "SELECT count(*) > 1 FROM no_such_table", "--database-url", bg))
    assert "--throttle-query fails" in line and "no_such_table" in line
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
    assert bluegreen_objects(pg) == []
    for table in ("bluegreen.migrations", "bluegreen.chunks"):
        line = one_line_error(cli("copy", table, "--alter", f"ALTER TABLE {table} ADD COLUMN "
                                  "x int", "--database-url", bg))
        assert "bluegreen's own state tables" in line
    commands.copy(bg, "items", TYPE_ALTER)
    shadow = commands.status(bg, "items")[0].record.shadow_table
    line = one_line_error(cli("copy", shadow, "--alter", f"ALTER TABLE {shadow} ADD COLUMN "
                              "x int", "--database-url", bg))
    assert "a table bluegreen made" in line


def test_ctrl_c_says_what_stopped_and_how_to_resume(bg, pg, pg_url):
    """Item 6: Ctrl-C is exit 130 with one line naming the command that resumes."""
    seed_items(pg, 30_000)
    proc = _copy_process(bg, "--alter", TYPE_ALTER, "--chunk-size", "500",
                         "--max-rows-per-second", "5000")
    _wait_for(lambda: _rows_copied(pg) > 1000)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    line = one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, "", err),
                          code=130)
    assert "interrupted" in line and "bluegreen copy items" in line
    assert commands.copy(bg, "items", None).record.state == "synced"
    # A cutover waiting for its lock, interrupted: nothing changed, and it says so.
    with psycopg.connect(pg_url) as blocker:
        blocker.execute("SELECT count(*) FROM items")
        cut = subprocess.Popen([sys.executable, "-m", "bluegreen", "cutover", "items", "--yes",
                                "--lock-timeout", "20000", "--database-url", bg],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: pg.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'bluegreen-cutover' AND wait_event_type = 'Lock'").fetchone()[0] > 0)
        cut.send_signal(signal.SIGINT)
        _, err = cut.communicate(timeout=30)
    line = one_line_error(subprocess.CompletedProcess(cut.args, cut.returncode, "", err),
                          code=130)
    assert "interrupted" in line and "bluegreen cutover items" in line
    assert commands.status(bg, "items")[0].record.state == "synced"


def test_the_throttle_query_is_read_only_bounded_and_tried_first(bg, pg):
    """Item 7: it cannot write or drop anything, it times out, and it is tried before
    anything is created."""
    seed_items(pg, 100)
    pg.execute("CREATE TABLE precious (v int)")
    pg.execute("CREATE FUNCTION sneaky() RETURNS boolean LANGUAGE plpgsql AS "
               "$$ BEGIN DROP TABLE precious; RETURN false; END $$")
    for query, message in (
            ("SELECT sneaky()", "read-only transaction"),
            ("SELECT false; DROP TABLE precious", "must be one SELECT"),
            ("DELETE FROM precious RETURNING true", "must be one SELECT"),
            ("SELECT pg_sleep(5) IS NULL", "statement timeout"),
    ):
        started = time.monotonic()
        line = one_line_error(cli("copy", "items", "--alter", TYPE_ALTER, "--throttle-query",
                                  query, "--database-url", bg))
        assert message in line, line
        assert time.monotonic() - started < 15
    assert pg.execute("SELECT to_regclass('precious') IS NOT NULL").fetchone()[0]
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
    assert bluegreen_objects(pg) == []
    # A good one runs, read-only, every poll.
    result = cli("copy", "items", "--alter", TYPE_ALTER, "--throttle-query",
                 "SELECT count(*) > 1000000 FROM precious", "--database-url", bg)
    assert result.returncode == 0, result.stderr


def test_a_non_superuser_owner_is_not_refused_by_the_disk_check(roles, pg):
    """Item 1: the disk-space pre-flight read data_directory, which only superusers and
    pg_read_all_settings may."""
    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    url = roles.encoded_owner_url()
    commands.init(url)
    with psycopg.connect(roles.owner_conninfo(), autocommit=True) as owner:
        seed_items(owner, 500)
    result = commands.copy(url, "items", TYPE_ALTER)
    assert result.record.state == "synced"
    assert any("free disk space unknown" in w for w in result.warnings)


def test_replica_lag_needs_a_role_that_can_see_it(roles, pg):
    """Without pg_read_all_stats, pg_stat_replication shows no positions: refuse rather
    than see no lag."""
    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    commands.init(roles.encoded_owner_url())
    with psycopg.connect(roles.owner_conninfo(), autocommit=True) as owner:
        seed_items(owner, 100)
    line = one_line_error(cli("copy", "items", "--alter", TYPE_ALTER, "--max-replication-lag",
                              "5", "--database-url", roles.encoded_owner_url()))
    assert "GRANT pg_monitor" in line


def test_writers_see_no_error_while_a_copy_is_aborted(bg, pg):
    seeds = seed_items(pg, 5000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    done = []
    thread = threading.Thread(target=lambda: done.append(
        commands.copy(bg, "items", TYPE_ALTER, CopyOptions(chunk_size=1000))))
    thread.start()
    thread.join(timeout=60)
    commands.abort(bg, "items")
    time.sleep(0.3)
    for writer in writers:
        writer.stop()
        assert writer.errors == []
    assert live_rows(pg) == expected_rows(seeds, writers)


def test_a_dml_only_app_role_keeps_writing_through_every_step(bg, pg, roles):
    """Item 1, the app's side alone: capture and reverse-sync triggers run with their
    owner's rights, so an app role with DML rights only sees no error at any step."""
    seeds = seed_items(pg, 3000)
    pg.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON items TO {}").format(
        sql.Identifier(roles.app)))
    writers = item_writers(roles.app_conninfo(), seeds, count=2, prepare=False)
    for writer in writers:
        writer.start()
    time.sleep(0.2)
    commands.copy(bg, "items", TYPE_ALTER, CopyOptions(chunk_size=500))
    for step in (lambda: commands.cutover(bg, ["items"]),
                 lambda: commands.rollback(bg, ["items"]),
                 lambda: commands.cutover(bg, ["items"]),
                 lambda: commands.finish(bg, ["items"])):
        time.sleep(0.4)
        step()
    time.sleep(0.4)
    for writer in writers:
        writer.stop()
        assert writer.errors == [], writer.errors[:3]
    assert live_rows(pg) == expected_rows(seeds, writers)
