"""The wheel carries every package and bluegreen's own Alembic environment."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_is_listed_in_pyproject():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "bluegreen").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_the_wheel_holds_the_code_and_the_state_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("bluegreen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("bluegreen/core/apply/runner.py", "bluegreen/engines/postgresql/apply.py",
                 "bluegreen/engines/sqlite/apply.py", "bluegreen/_migrations/env.py",
                 "bluegreen/_migrations/versions/0002_apply.py",
                 "bluegreen/_migrations/script.py.mako"):
        assert path in names, path
