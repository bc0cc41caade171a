"""The CI examples' commands, run as written against a test database."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# The shop's orders table as revision 0002 left it, for the terminal rollback example.
SHOP_ORDERS = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     customer_id bigint REFERENCES customers (id),
                     total_cents integer NOT NULL);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, total_cents) SELECT 1 + g % 100, g FROM generate_series(1, 2000) g;
"""


def bluegreen_commands(path: Path) -> list[list[str]]:
    """Every `bluegreen ...` command of a workflow file, in order."""
    out = []
    for line in path.read_text().splitlines():
        match = re.match(r"\s*-\s+(?:run:\s+)?(bluegreen .*)$", line)
        if match:
            out.append(shlex.split(match.group(1)))
    return out


@pytest.mark.parametrize("workflow", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_example_commands_run_and_a_second_run_changes_nothing(workflow, bg, pg):
    commands = bluegreen_commands(ROOT / "examples" / "ci" / workflow)
    assert [c[1] for c in commands] == ["plan", "init", "apply", "apply"]
    env = dict(os.environ, BLUEGREEN_DATABASE_URL=bg)

    def run_all() -> list[str]:
        outputs = []
        for argv in commands:
            proc = subprocess.run([sys.executable, "-m", "bluegreen", *argv[1:]], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-2000:])
            outputs.append(proc.stdout)
        return outputs

    run_all()
    assert pg.execute("SELECT data_type FROM information_schema.columns WHERE table_name = "
                      "'orders' AND column_name = 'total_cents'").fetchone()[0] == "bigint"
    assert pg.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0005"
    snapshot = pg.execute("SELECT * FROM bluegreen.apply_steps ORDER BY 1, 2, 3").fetchall()
    second = run_all()
    for output in second[2:]:  # the apply commands: one JSON summary, nothing run
        summary = json.loads(output.splitlines()[-1])
        assert summary["event"] == "summary" and summary["steps_run"] == 0
    assert pg.execute("SELECT * FROM bluegreen.apply_steps ORDER BY 1, 2, 3").fetchall() == \
        snapshot


def test_phase_gate_catches_a_breaking_revision():
    proc = subprocess.run([sys.executable, "-m", "bluegreen", "plan", "--format", "github",
                           "--phase", "expand", "examples/shop/migrations/versions"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "::error file=examples/shop/migrations/versions/0003_rename_email.py" in proc.stdout


def test_rollback_script_from_a_terminal(bg, pg):
    pg.execute(SHOP_ORDERS)
    env = dict(os.environ, BLUEGREEN_DATABASE_URL=bg,
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    for argv in (["copy", "orders", "--alter", "ALTER TABLE orders ADD COLUMN note text"],
                 ["cutover", "orders", "--yes"]):
        assert subprocess.run([sys.executable, "-m", "bluegreen", *argv], env=env,
                              capture_output=True, timeout=120).returncode == 0
    # No terminal here: the confirmation refuses, and says to pass --yes.
    proc = subprocess.run(["bash", str(ROOT / "examples" / "rollback.sh"), "orders"], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert "RENAME TO" in proc.stdout  # the dry run printed the SQL first


def test_rollback_asks_in_a_terminal_and_proceeds_on_yes(bg, pg):
    import pty
    import select

    pg.execute(SHOP_ORDERS)
    env = dict(os.environ, BLUEGREEN_DATABASE_URL=bg)
    for argv in (["copy", "orders", "--alter", "ALTER TABLE orders ADD COLUMN note text"],
                 ["cutover", "orders", "--yes"]):
        assert subprocess.run([sys.executable, "-m", "bluegreen", *argv], env=env,
                              capture_output=True, timeout=120).returncode == 0
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bluegreen", "rollback", "orders"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    answered = False
    while proc.poll() is None or select.select([master], [], [], 0.1)[0]:
        ready = select.select([master], [], [], 0.5)[0]
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, b"y\n")
            answered = True
    proc.wait(timeout=60)
    os.close(master)
    text = seen.decode(errors="replace")
    assert answered and "Roll orders back to the old shape?" in text
    assert proc.returncode == 0 and "rolled back" in text
