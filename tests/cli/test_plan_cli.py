"""bluegreen plan from the command line: formats, exit codes, and a new user's mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen.cli import main

SAFE = "ALTER TABLE users ADD COLUMN nick text;\n"
CONTRACT = "ALTER TABLE users DROP COLUMN nick;\n"
BREAKING = "ALTER TABLE users RENAME COLUMN email TO mail;\n"
SCHEMA = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, nick text);\n"


@pytest.fixture
def files(tmp_path):
    for name, text in {"safe.sql": SAFE, "contract.sql": CONTRACT, "breaking.sql": BREAKING,
                       "schema.sql": SCHEMA}.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_0_when_nothing_is_breaking_or_blocking(files, capsys):
    code, out, _ = run(capsys, "plan", files / "safe.sql", "--schema", files / "schema.sql")
    assert code == 0
    assert "1 change: 1 expand" in out  # singular: one change


def test_exit_1_when_something_is_breaking(files, capsys):
    code, out, _ = run(capsys, "plan", files / "breaking.sql")
    assert code == 1
    assert "renaming-column" in out and "breaking" in out


def test_phase_option_requires_every_change_in_that_phase(files, capsys):
    assert run(capsys, "plan", files / "contract.sql", "--phase", "expand")[0] == 1
    assert run(capsys, "plan", files / "contract.sql", "--phase", "contract")[0] == 0
    assert run(capsys, "plan", files / "safe.sql", "--phase", "expand")[0] == 0
    assert run(capsys, "plan", files / "contract.sql")[0] == 0


def test_json_format_is_stable(files, capsys):
    code, out, _ = run(capsys, "plan", files / "breaking.sql", "--schema",
                       files / "schema.sql", "--format", "json", "--pg-version", "14")
    data = json.loads(out)
    assert code == 1
    assert data["version"] == 1
    assert data["target"] == {"dialect": "postgresql", "version": 14}
    (change,) = data["changes"]
    assert change["source"].endswith("breaking.sql:1")
    assert change["operation"] == "rename_column" and change["table"] == "users"
    assert change["phase"] == "breaking" and change["blocking"] is False
    assert change["strategy"] == "expand-contract" and change["lock"] == "ACCESS EXCLUSIVE"
    assert change["findings"][0]["rule"] == "renaming-column"
    assert set(change["findings"][0]) >= {"rule", "severity", "message", "fix"}
    assert change["steps"][0] == {
        "phase": "expand", "description": "add mail beside email, nullable and without a default",
        "sql": "ALTER TABLE users ADD COLUMN mail text"}
    assert data["summary"] == {"expand": 0, "contract": 0, "breaking": 1, "blocking": 0}


def test_github_format_annotates_file_and_line(files, capsys):
    code, out, _ = run(capsys, "plan", files / "contract.sql", files / "breaking.sql",
                       "--format", "github")
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(f"::warning file={files / 'contract.sql'},line=1,")
    assert "title=bluegreen dropping-column (contract)::" in lines[0]
    error = next(line for line in lines if line.startswith("::error"))
    assert error.startswith(f"::error file={files / 'breaking.sql'},line=1,")
    assert "title=bluegreen renaming-column (breaking)::" in error


@pytest.mark.parametrize(("args", "expected"), [
    (["plan", "missing.sql"], "missing.sql: no such file or directory"),
    (["plan", "{bad}"], "bad.sql:2: SQL does not parse"),
    (["plan", "{breaking}", "--schema", "{empty}"], "table 'users' is not in --schema"),
    (["plan", "{safe}", "--database-url", "nonsense://x"], "is not a database URL"),
    (["plan", "{safe}", "--database-url", "postgresql://nobody@127.0.0.1:1/x"],
     "cannot connect to"),
    (["plan", "{safe}", "--schema", "nope.sql"], "--schema nope.sql: no such file"),
    (["plan", "{pyerr}"], "pyerr.py:1: cannot load the Alembic revision"),
])
def test_a_new_users_mistakes_get_one_line_and_exit_2(files, args, expected):
    (files / "bad.sql").write_text("SELECT 1;\nALTER TABLE users ADD COLUMN;\n")
    (files / "empty.sql").write_text("CREATE TABLE other (id int);\n")
    (files / "pyerr.py").write_text("def upgrade(:\n")
    paths = {"bad": files / "bad.sql", "breaking": files / "breaking.sql",
             "empty": files / "empty.sql", "safe": files / "safe.sql",
             "pyerr": files / "pyerr.py"}
    argv = [a.format(**paths) for a in args]
    proc = subprocess.run([sys.executable, "-m", "bluegreen", *argv], capture_output=True,
                          text=True, cwd=files, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_usage_errors_exit_2(capsys):
    assert main(["plan"]) == 2
    assert main(["plan", "x.sql", "--format", "yaml"]) == 2


def test_help_lists_plan(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "plan" in out


def test_readme_plan_command_runs_on_the_example():
    root = Path(__file__).parents[2]
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan",
                           "examples/shop/migrations/versions"], capture_output=True, text=True,
                          cwd=root, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "renaming-column" in proc.stdout
