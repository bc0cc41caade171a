"""What the commands print: help without Python types, plain lines off a terminal (no boxes,
no wrapping at any COLUMNS, nothing cut or repeated), a live bar that fits 60 columns,
plurals, no reprs, status active by default, a demo that leaves no temporary directory."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bluegreen.cli import app, main, render
from bluegreen.cli.common import Output
from bluegreen.results import Progress
from tests.support.items import seed_items

ALTER = "ALTER TABLE items ALTER COLUMN a TYPE bigint"
# Every registered command, so one added later is held to the same help.
COMMANDS = [info.name for info in app.registered_commands]
BOX = re.compile("[\u2500-\u257f]")  # box drawing: table borders and the bar


def bluegreen(*args: str, url: str | None = None, columns: int = 60, **env: str
              ) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")
            and k != "DATABASE_URL"}
    base.update(COLUMNS=str(columns), **env)
    if url:
        base["BLUEGREEN_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], capture_output=True,
                          text=True, timeout=120, env=base)


# ---- help ------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_help_shows_no_python_types(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"<(bool|str|int|float|path|list\[.*?\]|Path)>", out), out
    assert "None" not in out and "list[" not in out
    assert "-h" in out and "--help" in out


def test_help_keeps_brackets_and_says_each_default_once(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    main(["config", "--help"])
    assert "[tool.bluegreen] in pyproject.toml" in capsys.readouterr().out
    main(["plan", "--help"])
    out = capsys.readouterr().out
    assert "Default: the server's, else 15." in out
    assert "Default: the database's, else postgresql." in out
    main(["cutover", "--help"])
    out = capsys.readouterr().out
    assert "-y" in out and "[default: 500]" in out


def test_the_database_url_default_is_never_shown_in_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("BLUEGREEN_DATABASE_URL", "postgresql://app:s3cret@db/prod")
    assert main(["copy", "--help"]) == 0
    assert "s3cret" not in capsys.readouterr().out


# ---- plain lines off a terminal -------------------------------------------------------------

def test_plan_text_off_a_terminal_is_plain_lines_never_wrapped(tmp_path):
    long_sql = ("ALTER TABLE users ADD COLUMN a_rather_long_column_name_to_pass_sixty_columns "
                "text;")
    (tmp_path / "m.sql").write_text(long_sql + "\nALTER TABLE users DROP COLUMN nick;\n")
    proc = bluegreen("plan", str(tmp_path / "m.sql"), "--pg-version", "16", columns=60)
    assert proc.returncode == 0, proc.stderr
    assert not BOX.search(proc.stdout), proc.stdout
    lines = proc.stdout.splitlines()
    assert "  " + long_sql.rstrip(";") in lines  # the statement whole, on one line
    header = next(line for line in lines if line.lstrip().startswith("where"))
    assert header.split() == ["where", "operation", "table", "blocks", "strategy", "findings"]
    assert any(line.split()[:2] == ["m.sql:2", "drop_column"] for line in lines)
    assert lines[-1] == "2 changes: 1 expand, 1 contract, 0 breaking, 0 blocking"


def test_copy_off_a_terminal_prints_plain_whole_lines(bg, pg):
    seed_items(pg, 5000)
    pg.execute("CREATE INDEX items_b_and_c_with_a_name_long_enough_to_pass_sixty_columns "
               "ON items (b, c) WHERE b IS NOT NULL")
    proc = bluegreen("copy", "items", "--alter", ALTER, url=bg, columns=60)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    assert not BOX.search(proc.stderr), proc.stderr
    building = [line for line in err if line.startswith("building: ")]
    # The primary key, items_a_idx and the long one: each once, each on one line.
    assert len(building) == 3 and len(set(building)) == 3, err
    assert any("items_b_and_c_with_a_name_long_enough" in line for line in building)
    assert all(not line.startswith(" ") for line in err), err  # nothing wrapped
    assert err[-1].startswith("items synced: 5,000/5,000 rows copied")
    assert proc.stdout.startswith("items: synced; 5,000 rows copied, 0 captured changes "
                                  "replayed")


def test_quiet_copy_prints_the_result_only(bg, pg):
    seed_items(pg, 1)
    proc = bluegreen("copy", "items", "--alter", ALTER, "-q", url=bg)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("items: synced; 1 row copied, 0 captured changes replayed")


def test_progress_bar_fits_a_60_column_terminal():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=60, soft_wrap=True)
    Output.reset()
    display = render.CopyDisplay(json_lines=False, console=console)
    with display:
        for copied, throttled in ((1000, None), (120_000, "replication lag 12.0s > 5.0s")):
            display.progress(Progress(
                table="a_table_with_a_long_name", phase="backfill", rows_copied=copied,
                rows_total=2_500_000, rows_per_second=123_456.0, eta_seconds=20.0,
                backlog=12_345, rows_replayed=0, chunk_size=5000, throttled=throttled))
            lines = console.render_lines(display.bar.get_renderable(), pad=False)
            assert len(lines) == 1  # one line per task: a wrapped bar breaks the redraw
            assert sum(segment.cell_length for segment in lines[0]) <= 60
        # Other messages go through the bar's console, so the bar stays below them.
        assert render.CopyDisplay.active is display
        render.event_line("cutover")
    assert render.CopyDisplay.active is None
    assert "cutover" in buffer.getvalue()


def test_progress_never_shows_more_rows_copied_than_the_total():
    """The total is the planner's estimate when the copy began; 5,000,000/4,999,998 would
    read as a bug."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    Output.reset()
    display = render.CopyDisplay(json_lines=False, console=console)
    with display:
        display.progress(Progress(
            table="t", phase="indexes", rows_copied=5_000_000, rows_total=4_999_998,
            rows_per_second=1_100_000.0, eta_seconds=None, backlog=0, rows_replayed=0,
            chunk_size=5000, throttled=None))
    assert "t indexes: 5,000,000/5,000,000 rows copied, 1,100,000 rows/s" in buffer.getvalue()


def test_progress_gives_no_rate_before_there_is_one():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    Output.reset()
    with render.CopyDisplay(json_lines=False, console=console) as display:
        display.progress(Progress(
            table="t", phase="backfill", rows_copied=0, rows_total=1000,
            rows_per_second=0.0, eta_seconds=None, backlog=0, rows_replayed=0,
            chunk_size=5000, throttled=None))
    assert buffer.getvalue() == "t backfill: 0/1,000 rows copied, backlog 0\n"


def test_plural_and_no_reprs():
    assert render.plural(1, "row") == "1 row"
    assert render.plural(2, "row") == "2 rows"
    assert render.plural(1000, "captured change") == "1,000 captured changes"
    assert render.plural(0, "attempt") == "0 attempts"


def test_verify_lists_differing_key_ranges_without_reprs(bg, pg):
    seed_items(pg, 500)
    assert bluegreen("copy", "items", "--alter", ALTER, url=bg).returncode == 0
    shadow = pg.execute("SELECT shadow_table FROM bluegreen.migrations").fetchone()[0]
    pg.execute(f'UPDATE "{shadow}" SET b = \'tampered\' WHERE id IN (1, 450)')
    proc = bluegreen("verify", "items", "--chunk-rows", "100", url=bg)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"items: 2 of \d ranges differ \(live 500 rows, shadow 500 rows\)",
                        lines[0]), lines[0]
    assert lines[1] == "  keys from the first key up to 100"
    assert re.fullmatch(r"  keys after \d+ up to (\d+|the end)", lines[2]), lines[2]
    assert "None" not in proc.stdout and "[" not in proc.stdout


def test_any_command_answers_errors_in_json_with_format_json():
    proc = bluegreen("status", "--format", "json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert json.loads(proc.stderr)["error"]["message"].startswith("no database given")


def test_errors_hide_passwords_and_stay_on_one_line():
    proc = bluegreen("status", "--database-url", "nonsense://app:s3cret@db/prod")
    assert proc.returncode == 2
    assert "s3cret" not in proc.stderr and "app:***@db" in proc.stderr
    proc = bluegreen("status", "--database-url", "postgresql://app:s3cret@127.0.0.1:1/prod")
    assert proc.returncode == 2 and "s3cret" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "  " not in proc.stderr.strip()


def test_yes_has_a_short_form(bg, pg):
    seed_items(pg, 100)
    assert bluegreen("copy", "items", "--alter", ALTER, url=bg).returncode == 0
    cut = bluegreen("cutover", "items", "-y", url=bg)
    assert cut.returncode == 0 and "cut over" in cut.stdout, cut.stderr
    assert "1 attempt)" in cut.stdout


# ---- status ----------------------------------------------------------------------------------

def test_status_shows_active_migrations_and_history_with_all(bg, pg):
    seed_items(pg, 100)
    pg.execute("CREATE TABLE other (id bigint PRIMARY KEY, v int)")
    pg.execute("INSERT INTO other SELECT g, g FROM generate_series(1, 50) g")
    for argv in (["copy", "items", "--alter", ALTER], ["cutover", "items", "--yes"],
                 ["finish", "items", "--yes"],
                 ["copy", "other", "--alter", "ALTER TABLE other ADD COLUMN note text"]):
        assert bluegreen(*argv, url=bg).returncode == 0, argv

    def tables(*args: str) -> list[tuple[str, str]]:
        proc = bluegreen("status", *args, "--format", "json", url=bg)
        assert proc.returncode == 0, proc.stderr
        return [(row["table_name"], row["state"])
                for row in json.loads(proc.stdout)["migrations"]]

    assert tables() == [("other", "synced")]
    assert sorted(tables("--all")) == [("items", "finished"), ("other", "synced")]
    assert tables("items") == [("items", "finished")]  # a named table: its latest
    assert tables("items", "--all") == [("items", "finished")]
    text = bluegreen("status", url=bg, columns=60)
    assert "other" in text.stdout and "items" not in text.stdout
    assert not BOX.search(text.stdout)
    for argv in (["abort", "other", "--yes"],):
        assert bluegreen(*argv, url=bg).returncode == 0
    empty = bluegreen("status", url=bg)
    assert empty.returncode == 0
    assert empty.stdout.startswith("no active bluegreen migrations (`bluegreen status --all`")


# ---- demo ------------------------------------------------------------------------------------

def test_demo_removes_its_temporary_directories(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # A database in the environment is not the demo's: it drops and creates a table.
    proc = bluegreen("demo", "--rows", "1000", TMPDIR=str(scratch),
                     BLUEGREEN_DATABASE_URL="postgresql://nobody@127.0.0.1:1/production")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no write was lost" in proc.stdout
    assert "removed (pass --keep to keep it)" in proc.stdout
    assert list(scratch.iterdir()) == []
    kept = bluegreen("demo", "--rows", "1000", "--keep", TMPDIR=str(scratch))
    assert kept.returncode == 0, kept.stderr[-2000:]
    (folder,) = scratch.iterdir()
    assert (folder / "app.db").exists() and f"sqlite:///{folder / 'app.db'}" in kept.stdout
    assert [p.name for p in folder.iterdir() if p.suffix == ".sql"] == []


def test_demo_json_summary_hides_the_password(bg, pg):
    url = bg.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")  # trust auth
    proc = bluegreen("demo", "--rows", "500", "--database-url", url, "--format", "json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["ok"] is True
    assert "s3cret" not in proc.stdout + proc.stderr
    assert summary["database_url"].startswith("postgresql://postgres:***@")


def test_demo_path_is_not_a_module_level_temp_dir():
    # Nothing is created at import: the temporary folder belongs to a run.
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("bluegreen-demo-*"))
    import bluegreen.demo  # noqa: F401

    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("bluegreen-demo-*")) == before
