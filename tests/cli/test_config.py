"""The config file, the environment and flags: flag > environment > file > default, for
plan (no database) and for cutover, status and copy against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen import config
from tests.support.items import seed_items

ALTER = "ALTER TABLE items ALTER COLUMN a TYPE bigint"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BLUEGREEN_") and k not in ("DATABASE_URL", "APP_DB")}
    env.update(extra)
    return env


def bluegreen(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=clean_env(**env))


# ---- finding and reading the file ----------------------------------------------------------

def test_defaults_without_a_file(tmp_path):
    (tmp_path / ".git").mkdir()
    settings = config.load(tmp_path, {})
    assert settings.path is None
    assert settings["lock-timeout"] == 500 and settings["retries"] == 10
    assert settings["disable"] == [] and settings.database_url is None
    assert settings.defaults_for() == {}


def test_pyproject_tool_table_found_from_a_subdirectory(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.bluegreen]\nlock-timeout = 2000\n'
        'max-rows-per-second = 25000\ndisable = ["prefer-bigint"]\n')
    sub = tmp_path / "migrations" / "versions"
    sub.mkdir(parents=True)
    settings = config.load(sub, {})
    assert settings.path == tmp_path / "pyproject.toml"
    assert settings.values["lock-timeout"].source == f"file {tmp_path / 'pyproject.toml'}"
    assert settings.defaults_for() == {"lock_timeout": 2000, "max_rows_per_second": 25000,
                                       "disable": ["prefer-bigint"]}
    assert settings.defaults_for({"lock_timeout", "retries"}) == {"lock_timeout": 2000}


def test_bluegreen_toml_beats_pyproject_and_a_pyproject_without_the_table_is_skipped(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.bluegreen]\nretries = 3\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert config.load(app, {}).path == tmp_path / "pyproject.toml"
    (tmp_path / "bluegreen.toml").write_text("retries = 4\n")
    assert config.load(app, {})["retries"] == 4


def test_the_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / "bluegreen.toml").write_text("retries = 4\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert config.load(repo, {}).path is None


def test_environment_beats_the_file(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "bluegreen.toml").write_text("lock-timeout = 2000\nretries = 3\n")
    settings = config.load(tmp_path, {"BLUEGREEN_LOCK_TIMEOUT": "750",
                                      "BLUEGREEN_DISABLE": "prefer-bigint, prefer-jsonb"})
    assert settings["lock-timeout"] == 750
    assert settings.values["lock-timeout"].source == "env BLUEGREEN_LOCK_TIMEOUT"
    assert settings["retries"] == 3
    assert settings["disable"] == ["prefer-bigint", "prefer-jsonb"]


def test_the_database_url_comes_from_the_named_variable(tmp_path):
    (tmp_path / ".git").mkdir()
    env = {"DATABASE_URL": "postgresql://a@h/one", "APP_DB": "postgresql://a@h/two"}
    assert config.load(tmp_path, env).database_url == "postgresql://a@h/one"
    (tmp_path / "bluegreen.toml").write_text('database-url-env = "APP_DB"\n')
    settings = config.load(tmp_path, env)
    assert settings.database_url == "postgresql://a@h/two"
    assert settings.database_url_source == "env APP_DB"
    env["BLUEGREEN_DATABASE_URL"] = "postgresql://a@h/three"
    assert config.load(tmp_path, env).database_url == "postgresql://a@h/three"


def test_config_named_by_the_environment(tmp_path):
    elsewhere = tmp_path / "ci.toml"
    elsewhere.write_text("retries = 1\n")
    assert config.load(tmp_path, {"BLUEGREEN_CONFIG": str(elsewhere)})["retries"] == 1


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("lock_timeout = 5\n", {}, "unknown setting 'lock_timeout'; did you mean lock-timeout?"),
    ('lock-timeout = "fast"\n', {}, "lock-timeout = 'fast': give a whole number of ms"),
    ("lock-timeout = 0\n", {}, "lock-timeout = 0: give a whole number of ms from 1"),
    ("retries = -1\n", {}, "retries = -1: give a whole number"),
    ("max-rows-per-second = true\n", {}, "give a number of rows per second"),
    ('disable = "prefer-bigint"\n', {}, "disable = 'prefer-bigint': give a list of rule ids"),
    ("retries = \n", {}, "not valid TOML"),
    ("", {"BLUEGREEN_RETRIES": "many"}, "BLUEGREEN_RETRIES='many': give a whole number"),
    ("", {"BLUEGREEN_CONFIG": "/nonexistent/bg.toml"}, "config file /nonexistent/bg.toml: no "
     "such file"),
])
def test_bad_settings_are_refused_with_what_to_give(tmp_path, text, env, expected):
    (tmp_path / ".git").mkdir()
    (tmp_path / "bluegreen.toml").write_text(text)
    with pytest.raises(config.ConfigError) as error:
        config.load(tmp_path, env)
    assert expected.replace(" ms", " milliseconds") in error.value.message
    proc = bluegreen("plan", "x.sql", cwd=tmp_path, **env)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:s3cret@db.example.com:5432/prod",
     "postgresql://app:***@db.example.com:5432/prod"),
    ("postgresql+psycopg://app:p%40ss@/prod?host=/run/pg", "postgresql+psycopg://app:***@/prod"
     "?host=/run/pg"),
    ("postgresql://app:we:ird@pass@db/prod", "postgresql://app:***@db/prod"),
    ("postgresql://db/prod?user=app&password=s3cret", "postgresql://db/prod?user=app&password=***"),
    ("host=db user=app password=s3cret dbname=prod", "host=db user=app password=*** dbname=prod"),
    ("sqlite:///app.db", "sqlite:///app.db"),
])
def test_redact_hides_passwords(url, shown):
    assert config.redact(url) == shown


# ---- through the commands ------------------------------------------------------------------

def test_config_command_shows_values_sources_and_no_password(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "bluegreen.toml").write_text("lock-timeout = 2000\nretries = 3\n")
    proc = bluegreen("config", "--format", "json", cwd=tmp_path,
                     BLUEGREEN_DATABASE_URL="postgresql://app:s3cret@db:5432/prod",
                     BLUEGREEN_RETRIES="7")
    assert proc.returncode == 0, proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["file"] == str(tmp_path / "bluegreen.toml")
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["database-url"]["value"] == "postgresql://app:***@db:5432/prod"
    assert settings["database-url"]["source"] == "env BLUEGREEN_DATABASE_URL"
    assert (settings["lock-timeout"]["value"], settings["lock-timeout"]["source"]) == (
        2000, f"file {tmp_path / 'bluegreen.toml'}")
    assert (settings["retries"]["value"], settings["retries"]["source"]) == (
        7, "env BLUEGREEN_RETRIES")
    assert settings["max-rows-per-second"]["source"] == "default"
    text = bluegreen("config", cwd=tmp_path, DATABASE_URL="postgresql://app:s3cret@db/prod",
                     BLUEGREEN_RETRIES="7")
    assert "s3cret" not in text.stdout and "postgresql://app:***@db/prod" in text.stdout
    assert "env BLUEGREEN_RETRIES" in text.stdout
    # -v on any command says the same on stderr, password hidden too.
    verbose = bluegreen("config", "-v", cwd=tmp_path,
                        DATABASE_URL="postgresql://app:s3cret@db/prod")
    assert "s3cret" not in verbose.stderr
    assert "lock-timeout = 2000 (file" in verbose.stderr


def test_plan_takes_pg_version_and_disable_flag_over_env_over_file(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "m.sql").write_text("ALTER TABLE users ADD COLUMN nick json;\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bluegreen]\npg-version = 11\ndisable = ["prefer-jsonb"]\n')

    def plan(*args: str, **env: str) -> dict:
        proc = bluegreen("plan", "m.sql", "--format", "json", *args, cwd=tmp_path, **env)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)

    def rules(data: dict) -> set[str]:
        return {f["rule"] for f in data["changes"][0]["findings"]}

    from_file = plan()
    assert from_file["target"]["version"] == 11 and "prefer-jsonb" not in rules(from_file)
    from_env = plan(BLUEGREEN_PG_VERSION="12", BLUEGREEN_DISABLE="missing-lock-timeout")
    assert from_env["target"]["version"] == 12
    assert "prefer-jsonb" in rules(from_env) and "missing-lock-timeout" not in rules(from_env)
    from_flag = plan("--pg-version", "13", "--disable", "prefer-jsonb",
                     BLUEGREEN_PG_VERSION="12")
    assert from_flag["target"]["version"] == 13 and "prefer-jsonb" not in rules(from_flag)
    assert "missing-lock-timeout" in rules(from_flag)
    # --config names a file outside the search.
    other = tmp_path / "other.toml"
    other.write_text("pg-version = 14\n")
    assert plan_with(tmp_path, "--config", str(other))["target"]["version"] == 14


def plan_with(cwd: Path, *root_args: str) -> dict:
    proc = bluegreen(*root_args, "plan", "m.sql", "--format", "json", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _lock_timeout(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return next(line for line in proc.stdout.splitlines() if "lock_timeout" in line)


def test_cutover_lock_timeout_flag_over_env_over_file(bg, pg, tmp_path):
    seed_items(pg, 200)
    (tmp_path / ".git").mkdir()
    env = {"BLUEGREEN_DATABASE_URL": bg}
    assert bluegreen("copy", "items", "--alter", ALTER, cwd=tmp_path, **env).returncode == 0
    dry = ("cutover", "items", "--dry-run")
    assert _lock_timeout(bluegreen(*dry, cwd=tmp_path, **env)).endswith("= 500;")
    (tmp_path / "bluegreen.toml").write_text("lock-timeout = 1234\n")
    assert _lock_timeout(bluegreen(*dry, cwd=tmp_path, **env)).endswith("= 1234;")
    assert _lock_timeout(bluegreen(*dry, cwd=tmp_path, BLUEGREEN_LOCK_TIMEOUT="2345", **env)
                         ).endswith("= 2345;")
    assert _lock_timeout(bluegreen(*dry, "--lock-timeout", "3456", cwd=tmp_path,
                                   BLUEGREEN_LOCK_TIMEOUT="2345", **env)).endswith("= 3456;")


def test_commands_read_the_url_from_the_variable_the_config_names(bg, pg, tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "bluegreen.toml").write_text('database-url-env = "APP_DB"\n')
    proc = bluegreen("status", "--format", "json", cwd=tmp_path, APP_DB=bg)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"migrations": [], "revisions": []}
    missing = bluegreen("status", cwd=tmp_path, DATABASE_URL=bg)
    assert missing.returncode == 2
    assert "set BLUEGREEN_DATABASE_URL (or APP_DB)" in missing.stderr


def test_copy_takes_throttle_settings_from_the_file(bg, pg, tmp_path):
    seed_items(pg, 3000)
    (tmp_path / ".git").mkdir()
    (tmp_path / "bluegreen.toml").write_text("max-rows-per-second = 1000\n")
    proc = bluegreen("copy", "items", "--alter", ALTER, "--chunk-size", "500", "--format",
                     "json", cwd=tmp_path, BLUEGREEN_DATABASE_URL=bg)
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout.splitlines()[-1])
    # At 1,000 rows/s (a burst of one second's worth) 3,000 rows take at least 2 s;
    # unthrottled this copy takes a fraction of a second. A lower bound only: a slow
    # machine cannot make it fail.
    assert done["migration"]["rows_copied"] == 3000 and done["seconds"] > 1.5


def test_the_readme_example_config_loads(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(example)
    settings = config.load(tmp_path, {"APP_DATABASE_URL": "postgresql://app@db/app"})
    assert settings["lock-timeout"] == 2000 and settings["disable"] == ["prefer-bigint"]
    assert settings.database_url_source == "env APP_DATABASE_URL"
