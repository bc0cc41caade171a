"""bluegreen apply / revert from the command line: exit codes, one-line refusals, JSON
lines, the confirmation, one apply at a time, a file changed after it ran."""

from __future__ import annotations

import json

import psycopg

from tests.cli.test_copy_cli import bluegreen
from tests.support.items import seed_items


def migration(tmp_path, **files: str) -> list[str]:
    out = []
    for name, text in files.items():
        path = tmp_path / f"{name}.sql"
        path.write_text(text)
        out.append(str(path))
    return out


def one_line_error(result, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_an_unsafe_statement_stops_apply_before_anything_runs(bg, pg, tmp_path):
    seed_items(pg, 100)
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN d text;",
                      b="SELECT 1;\nALTER TABLE items ADD COLUMN e integer NOT NULL;")
    refused = bluegreen("apply", *paths, "--phase", "expand", env_url=bg)
    line = one_line_error(refused, 1)
    assert "b.sql:2" in line and "--allow-unsafe" in line and "nothing was run" in line
    assert "d" not in [r[0] for r in pg.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass")]
    assert pg.execute("SELECT count(*) FROM bluegreen.apply_revisions").fetchone()[0] == 0
    # Run as written on request, under the lock timeout: on rows it fails, and says so.
    forced = bluegreen("apply", *paths, "--phase", "expand", "--allow-unsafe", env_url=bg)
    line = one_line_error(forced, 2)
    assert "contains null values" in line and "run the same command again" in line
    pg.execute("DELETE FROM items")
    assert bluegreen("apply", *paths, "--phase", "expand", "--allow-unsafe",
                     env_url=bg).returncode == 0


def test_contract_needs_expand_first(bg, pg, tmp_path):
    seed_items(pg, 10)
    paths = migration(tmp_path, a="ALTER TABLE items DROP COLUMN b;")
    line = one_line_error(bluegreen("apply", *paths, "--phase", "contract", env_url=bg), 2)
    assert "a.sql" in line and "--phase expand" in line


def test_a_file_changed_after_its_steps_ran_is_refused(bg, pg, tmp_path):
    seed_items(pg, 10)
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN d text;")
    assert bluegreen("apply", *paths, "--phase", "expand", env_url=bg).returncode == 0
    (tmp_path / "a.sql").write_text("ALTER TABLE items ADD COLUMN d integer;")
    line = one_line_error(bluegreen("apply", *paths, "--phase", "expand", env_url=bg), 2)
    assert "a.sql changed after bluegreen apply ran 1 of its steps" in line


def test_one_apply_at_a_time_names_the_holder(bg, pg, tmp_path):
    from bluegreen.engines.postgresql.apply import APPLY_LOCK_CLASS, APPLY_LOCK_ID

    seed_items(pg, 10)
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN d text;")
    with psycopg.connect(bg, autocommit=True,
                         application_name="bluegreen-apply build-7.example") as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (APPLY_LOCK_CLASS, APPLY_LOCK_ID))
        pid = other.info.backend_pid
        line = one_line_error(bluegreen("apply", *paths, "--phase", "expand", env_url=bg), 2)
        # Released now, not whenever the server notices the closed connection.
        other.execute("SELECT pg_advisory_unlock(%s, %s)", (APPLY_LOCK_CLASS, APPLY_LOCK_ID))
    assert f"server pid {pid}" in line and "build-7.example" in line and "since" in line
    assert bluegreen("apply", *paths, "--phase", "expand", env_url=bg).returncode == 0


def test_json_lines_and_a_rerun_that_changes_nothing(bg, pg, tmp_path):
    seed_items(pg, 3000)
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN d text;\n"
                                  "CREATE INDEX CONCURRENTLY items_b_idx ON items (b);",
                      b="UPDATE items SET c = 0 WHERE c > 100;")
    first = bluegreen("apply", *paths, "--phase", "expand", "--format", "json", env_url=bg)
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    steps = [e for e in events if e["event"] == "step" and e["status"] == "done"]
    assert [e["kind"] for e in steps] == ["sql", "concurrent", "batch"]
    assert steps[2]["rows"] == 2900
    assert events[-1]["event"] == "summary" and events[-1]["steps_run"] == 3
    again = bluegreen("apply", *paths, "--phase", "expand", "--format", "json", env_url=bg)
    summary = json.loads(again.stdout.splitlines()[-1])
    assert again.returncode == 0 and summary["steps_run"] == 0
    text = bluegreen("apply", *paths, "--phase", "expand", env_url=bg)
    assert "already done for every revision; nothing changed" in text.stdout
    status = bluegreen("status", env_url=bg)
    assert "a.sql" in status.stdout and "done 2/2" in status.stdout
    dry = bluegreen("apply", *paths, "--phase", "contract", "--dry-run", "--format", "json",
                    env_url=bg)
    assert json.loads(dry.stdout)["steps"] == []


def test_revert_asks_before_dropping_what_the_new_app_wrote(bg, pg, tmp_path):
    seed_items(pg, 100)
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN note text;")
    assert bluegreen("apply", *paths, "--phase", "expand", env_url=bg).returncode == 0
    pg.execute("UPDATE items SET note = 'written by green' WHERE id <= 7")
    dry = bluegreen("revert", *paths, "--dry-run", env_url=bg)
    assert "ALTER TABLE items DROP COLUMN IF EXISTS note;" in dry.stdout
    assert "drops items.note: 7 values the new app wrote" in dry.stdout
    asked = bluegreen("revert", *paths, env_url=bg)  # no terminal to answer
    assert "--yes" in one_line_error(asked, 2)
    assert "note" in [r[0] for r in pg.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass")]
    done = bluegreen("revert", *paths, "--yes", env_url=bg)
    assert done.returncode == 0 and "reverted" in done.stdout, done.stderr
    assert "note" not in [r[0] for r in pg.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'items'::regclass AND NOT "
        "attisdropped")]
    again = bluegreen("revert", *paths, "--yes", env_url=bg)
    assert again.returncode == 0 and "nothing to revert" in again.stdout


def test_bad_input_is_one_line_and_exit_2(bg, tmp_path):
    line = one_line_error(bluegreen("apply", str(tmp_path / "nope.sql"), "--phase", "expand",
                                    env_url=bg), 2)
    assert "nope.sql: no such file" in line
    paths = migration(tmp_path, a="ALTER TABLE items ADD COLUMN d text;")
    line = one_line_error(bluegreen("apply", *paths, "--phase", "expand"), 2)
    assert "--database-url" in line
    line = one_line_error(bluegreen("apply", *paths, "--phase", "expand", "--lock-timeout",
                                    "0", env_url=bg), 2)
    assert "--lock-timeout" in line
