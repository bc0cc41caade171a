"""plan takes the database from BLUEGREEN_DATABASE_URL on every path (SQL files, revision
files, versions directories, stdin, every format), like the other commands, and an explicit
--schema or --dialect beats it instead of clashing with it.

Before: plan read only BLUEGREEN_DATABASE_URL (never DATABASE_URL nor a configured name), and
with the variable set, `plan --schema FILE` was refused ("give --schema or --database-url,
not both") and `plan --dialect sqlite` failed on the PostgreSQL URL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
NO_SCHEMA = "no schema given"


def plan(*args: str, cwd: Path, stdin: str | None = None, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")
            and k != "DATABASE_URL"}
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan", *args, "--format", "json"],
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
                          env={**base, **env})
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def used_the_database(data: dict) -> bool:
    return not any(NO_SCHEMA in a or "assumed" in a for a in data["assumptions"])


@pytest.fixture
def project(pg, tmp_path):
    pg.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)")
    pg.execute("INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 100) g")
    pg.execute("ANALYZE users")
    (tmp_path / "m.sql").write_text("ALTER TABLE users ADD COLUMN nick text;\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    shutil.copytree(ROOT / "examples" / "shop" / "migrations" / "versions",
                    tmp_path / "versions")
    return tmp_path


@pytest.mark.parametrize("inputs", [["m.sql"], ["-"], ["versions"],
                                    ["versions/0001_create_customers.py"]])
@pytest.mark.parametrize("variable", ["BLUEGREEN_DATABASE_URL", "DATABASE_URL"])
def test_every_input_kind_reads_the_database_from_the_environment(project, pg_url, inputs,
                                                                  variable):
    from tests.conftest import sqlalchemy_url

    stdin = "ALTER TABLE users ADD COLUMN nick text;\n" if inputs == ["-"] else None
    without = plan(*inputs, cwd=project, stdin=stdin)
    assert not used_the_database(without)
    data = plan(*inputs, cwd=project, stdin=stdin, **{variable: sqlalchemy_url(pg_url)})
    assert used_the_database(data), data["assumptions"]
    if inputs in (["m.sql"], ["-"]):
        assert data["changes"][0]["table_rows"] == 100  # the estimate came from the server


def test_a_schema_flag_beats_the_url_in_the_environment(project, pg_url):
    from tests.conftest import sqlalchemy_url

    data = plan("m.sql", "--schema", "schema.sql", cwd=project,
                BLUEGREEN_DATABASE_URL=sqlalchemy_url(pg_url))
    assert "table_rows" not in data["changes"][0]  # judged against the file, not the server
    assert not any(NO_SCHEMA in a for a in data["assumptions"])


def test_a_dialect_flag_beats_a_url_of_another_engine_in_the_environment(project, pg_url):
    from tests.conftest import sqlalchemy_url

    data = plan("m.sql", "--dialect", "sqlite", cwd=project,
                BLUEGREEN_DATABASE_URL=sqlalchemy_url(pg_url))
    assert data["target"]["dialect"] == "sqlite"
    same = plan("m.sql", "--dialect", "postgresql", cwd=project,
                BLUEGREEN_DATABASE_URL=sqlalchemy_url(pg_url))
    assert used_the_database(same)


def test_both_given_on_the_command_line_is_still_refused(project, pg_url):
    from tests.conftest import sqlalchemy_url

    url = sqlalchemy_url(pg_url)
    for extra, expected in ((["--schema", "schema.sql"], "give --schema or --database-url"),
                            (["--dialect", "sqlite"], "--dialect sqlite does not match")):
        proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan", "m.sql",
                               "--database-url", url, *extra], cwd=project,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
