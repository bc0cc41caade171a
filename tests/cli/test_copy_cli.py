"""bluegreen init / copy / status / pause / resume / verify / abort from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.items import seed_items

ALTER = "ALTER TABLE items ALTER COLUMN a TYPE bigint"


def bluegreen(*args: str, env_url: str | None = None, stdin: str | None = None):
    import os

    env = dict(os.environ)
    env.pop("BLUEGREEN_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    if env_url:
        env["BLUEGREEN_DATABASE_URL"] = env_url
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], capture_output=True,
                          text=True, env=env, timeout=120, input=stdin)


def test_copy_lifecycle_from_the_command_line(bg, pg):
    seed_items(pg, 3000)
    init = bluegreen("init", env_url=bg)
    assert init.returncode == 0 and "up to date" in init.stdout
    copy = bluegreen("copy", "items", "--alter", ALTER, "--format", "json", env_url=bg)
    assert copy.returncode == 0, copy.stderr
    events = [json.loads(line) for line in copy.stdout.splitlines()]
    assert all("event" in e for e in events)
    assert any(e["event"] == "progress" for e in events)
    done = events[-1]
    assert done["event"] == "done" and done["migration"]["state"] == "synced"
    assert done["migration"]["rows_copied"] == 3000
    status = bluegreen("status", "items", "--format", "json", env_url=bg)
    (row,) = json.loads(status.stdout)["migrations"]
    assert row["state"] == "synced" and row["backlog"] == 0
    assert "synced" in bluegreen("status", env_url=bg).stdout
    assert bluegreen("pause", "items", env_url=bg).returncode == 0
    assert json.loads(bluegreen("status", "items", "--format", "json", env_url=bg).stdout
                      )["migrations"][0]["paused"] is True
    assert bluegreen("resume", "items", env_url=bg).returncode == 0
    verify = bluegreen("verify", "items", "--format", "json", env_url=bg)
    assert verify.returncode == 0 and json.loads(verify.stdout)["equal"] is True
    # abort asks for confirmation; with no terminal it refuses and says to pass --yes.
    refused = bluegreen("abort", "items", env_url=bg)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    dry = bluegreen("abort", "items", "--dry-run", env_url=bg)
    assert dry.returncode == 0 and "DROP TRIGGER" in dry.stdout
    aborted = bluegreen("abort", "items", "--yes", env_url=bg)
    assert aborted.returncode == 0 and "aborted" in aborted.stdout
    again = bluegreen("abort", "items", env_url=bg)  # nothing to confirm: nothing changes
    assert again.returncode == 0 and again.stdout == "items: already aborted; nothing to do\n"


def test_copy_dry_run_prints_sql(bg, pg):
    seed_items(pg, 10)
    result = bluegreen("copy", "items", "--alter", ALTER, "--dry-run", "--database-url", bg)
    assert result.returncode == 0
    assert "CREATE TRIGGER" in result.stdout and result.stdout.count(";") > 8
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0


def test_errors_are_one_line_with_exit_2(bg, pg):
    for args, expected in [
        (["copy", "items", "--alter", ALTER], "no database given"),
        (["copy", "nope", "--alter", ALTER, "--database-url", bg], "does not exist"),
        (["copy", "items", "--alter", ALTER, "--database-url", "postgresql://x@127.0.0.1:1/x"],
         "cannot connect"),
        (["copy", "items", "--chunk-size", "lots", "--database-url", bg], "--chunk-size"),
        (["status", "items", "--database-url", bg], "no active bluegreen migration"),
    ]:
        result = bluegreen(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cutover_rollback_finish_from_the_command_line(bg, pg):
    seed_items(pg, 500)
    assert bluegreen("copy", "items", "--alter", ALTER, env_url=bg).returncode == 0
    dry = bluegreen("cutover", "items", "--dry-run", env_url=bg)
    assert dry.returncode == 0 and "LOCK TABLE" in dry.stdout and "RENAME TO" in dry.stdout
    refused = bluegreen("cutover", "items", env_url=bg)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    cut = bluegreen("cutover", "items", "--yes", "--format", "json", env_url=bg)
    assert cut.returncode == 0, cut.stderr
    data = json.loads(cut.stdout)
    assert data["states"] == {"items": "cut_over"} and data["lock_ms"] > 0
    back = bluegreen("rollback", "items", "--yes", env_url=bg)
    assert back.returncode == 0 and "rolled back" in back.stdout and "ms" in back.stdout
    again = bluegreen("cutover", "items", "--yes", env_url=bg)
    assert again.returncode == 0
    # A pipeline running the step again: nothing to do, and exit 0.
    twice = bluegreen("cutover", "items", "--yes", "--format", "json", env_url=bg)
    assert twice.returncode == 0, twice.stderr
    assert json.loads(twice.stdout)["already"] is True
    assert bluegreen("cutover", "items", "--yes", env_url=bg).stdout == (
        "items: already cut over; nothing to do\n")
    finish = bluegreen("finish", "items", "--yes", env_url=bg)
    assert finish.returncode == 0 and "finished" in finish.stdout
    # Run again (no --yes, no terminal: nothing to confirm since nothing will change).
    again = bluegreen("finish", "items", env_url=bg)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "items: already finished; nothing to do\n"
    data = json.loads(bluegreen("finish", "items", "-y", "--format", "json", env_url=bg).stdout)
    assert data[0]["already"] is True and data[0]["state"] == "finished"
    # A cutover of the finished table is refused as before, without asking first.
    refused = bluegreen("cutover", "items", env_url=bg)
    assert refused.returncode == 2 and "no active bluegreen migration" in refused.stderr


def test_libpq_socket_and_sqlalchemy_urls(bg, pg):
    import os

    from tests.conftest import admin_url

    if "127.0.0.1" not in admin_url() or not os.path.isdir("/var/run/postgresql"):
        pytest.skip("socket URLs need the local server; the TCP URL is tested everywhere")
    dbname = bg.rsplit("/", 1)[1]
    for url in (f"postgresql:///{dbname}?host=/var/run/postgresql&user=postgres",
                bg.replace("postgresql://", "postgresql+psycopg://")):
        result = bluegreen("status", "--format", "json", "--database-url", url)
        assert result.returncode == 0, (url, result.stderr)


def test_a_lost_connection_is_one_line_and_the_rerun_resumes(bg, pg):
    import os
    import time

    seed_items(pg, 20_000)
    env = dict(os.environ, BLUEGREEN_DATABASE_URL=bg)
    proc = subprocess.Popen([sys.executable, "-m", "bluegreen", "copy", "items", "--alter",
                             ALTER, "--chunk-size", "200", "--max-rows-per-second", "5000"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = pg.execute("SELECT rows_copied FROM bluegreen.migrations").fetchone()
        if row and row[0] > 1000:
            break
        time.sleep(0.05)
    # This database's sessions only: the server is shared with other test runs.
    pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
               "application_name LIKE 'bluegreen%%' AND pid <> pg_backend_pid() AND "
               "datname = current_database()")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert "run the same command again" in err
    rerun = bluegreen("copy", "items", env_url=bg)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(bluegreen("status", "items", "--format", "json", env_url=bg).stdout
                      )["migrations"][0]["rows_copied"] == 20_000


def test_copy_with_cutover_is_one_command_and_loses_no_write(bg, pg):
    """copy --cutover: copy, sync and cut over in one process, while the app writes; run
    again, it changes nothing."""
    from tests.support.items import expected_rows, item_writers, live_rows
    seeds = seed_items(pg, 5000)
    writers = item_writers(bg, seeds, count=2)
    for writer in writers:
        writer.start()
    try:
        done = bluegreen("copy", "items", "--alter", ALTER, "--cutover", "--chunk-size", "500",
                         "--format", "json", env_url=bg)
    finally:
        for writer in writers:
            writer.stop()
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    copied = next(e for e in events if e["event"] == "done")
    assert copied["migration"]["state"] == "synced" and copied["already"] is False
    assert events[-1]["event"] == "cutover" and events[-1]["states"] == {"items": "cut_over"}
    assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                      "'items' AND column_name = 'a'").fetchone()[0] == "bigint"
    assert live_rows(pg) == expected_rows(seeds, writers)
    assert sum(w.writes for w in writers) > 50

    again = bluegreen("copy", "items", "--alter", ALTER, "--cutover", env_url=bg)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("items: already cut over to this change; nothing to copy")
    assert live_rows(pg) == expected_rows(seeds, writers)
    other = bluegreen("copy", "items", "--alter", "ALTER TABLE items ADD COLUMN z text",
                      "--cutover", env_url=bg)
    assert other.returncode == 2 and "cut_over" in other.stderr


@pytest.mark.parametrize("extra, message", [
    (["--follow"], "--cutover and --follow do not go together"),
    (["--dry-run"], "bluegreen cutover items --dry-run"),
])
def test_copy_with_cutover_refuses_what_does_not_fit(bg, pg, extra, message):
    seed_items(pg, 10)
    refused = bluegreen("copy", "items", "--alter", ALTER, "--cutover", *extra, env_url=bg)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert pg.execute("SELECT count(*) FROM bluegreen.migrations").fetchone()[0] == 0
