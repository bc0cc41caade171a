"""Start-up: --help, --version and shell completion load no database library; each command
imports what it needs when it runs. Each check runs in a fresh interpreter, since this
test process has long loaded everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import bluegreen

HEAVY = ("sqlalchemy", "alembic", "psycopg", "pglast")

PROBE = """
import json, os, sys
{setup}
from bluegreen.cli import main
try:
    code = main({argv!r})
except SystemExit as exit_:
    code = exit_.code
sys.stdout.flush()
sys.stderr.write("\\nLOADED " + json.dumps(sorted(
    m for m in {heavy!r} if m in sys.modules)) + "\\n")
sys.exit(code or 0)
"""


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without a database URL (a developer's own would make plan
    introspect, which loads the driver), plus ``extra``."""
    return {**{k: v for k, v in os.environ.items()
               if not k.startswith("BLUEGREEN_") and k != "DATABASE_URL"}, **extra}


def loaded_after(argv: list[str], setup: str = "", env: dict | None = None
                 ) -> tuple[list[str], subprocess.CompletedProcess]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup, argv=argv, heavy=HEAVY)],
        capture_output=True, text=True, timeout=60, env=env or clean_env())
    marker = proc.stderr.rsplit("LOADED ", 1)
    assert len(marker) == 2, proc.stderr
    return json.loads(marker[1]), proc


def test_importing_the_cli_loads_no_database_library():
    code = ("import sys, bluegreen.cli, bluegreen.commands, bluegreen.config; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_and_version_load_no_database_library():
    for argv in (["--help"], ["--version"], ["plan", "--help"], ["copy", "--help"],
                 ["cutover", "--help"], ["demo", "--help"], ["config", "--help"]):
        loaded, proc = loaded_after(argv)
        assert proc.returncode == 0, (argv, proc.stderr)
        assert loaded == [], argv


def test_shell_completion_loads_no_database_library():
    env = clean_env(_BLUEGREEN_COMPLETE="complete_bash",
                    COMP_WORDS="bluegreen plan --format ", COMP_CWORD="3")
    loaded, proc = loaded_after([], env=env)
    assert proc.returncode == 0, proc.stderr
    assert loaded == []
    assert proc.stdout.split() == ["text", "json", "github", "sarif", "gitlab"]
    env.update(COMP_WORDS="bluegreen cut", COMP_CWORD="1")
    _, proc = loaded_after([], env=env)
    assert proc.stdout.split() == ["cutover"]


def test_a_command_loads_what_it_needs(tmp_path):
    (tmp_path / "m.sql").write_text("ALTER TABLE users ADD COLUMN nick text;\n")
    loaded, proc = loaded_after(["plan", str(tmp_path / "m.sql")])
    assert proc.returncode == 0, proc.stderr
    # plan parses SQL with pglast into bluegreen's own light ops: no Alembic, no driver.
    assert loaded == ["pglast"]


def test_planning_an_alembic_revision_loads_alembic(tmp_path):
    revision = tmp_path / "0001_nick.py"
    revision.write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0001'\n"
        "down_revision = None\n\n\ndef upgrade():\n"
        "    op.add_column('users', sa.Column('nick', sa.Text()))\n")
    loaded, proc = loaded_after(["plan", "--format", "json", str(revision)])
    assert proc.returncode == 0, proc.stderr
    assert {"alembic", "sqlalchemy"} <= set(loaded) and "psycopg" not in loaded
    changes = json.loads(proc.stdout)["changes"]
    assert [(c["operation"], c["table"]) for c in changes] == [("add_column", "users")]


def test_version_matches_the_package(capsys):
    from bluegreen.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"bluegreen {bluegreen.__version__}\n"
    assert bluegreen.__version__ == version("bluegreen")


def test_init_and_status_load_the_driver_alone(bg):
    """A pipeline runs init before each deploy and status often: neither needs the SQL
    parser nor Alembic (init's fast path reads the state revision itself)."""
    for argv in (["init"], ["status"]):
        loaded, proc = loaded_after(argv, env=clean_env(BLUEGREEN_DATABASE_URL=bg))
        assert proc.returncode == 0, (argv, proc.stderr)
        assert loaded == ["psycopg"], argv
