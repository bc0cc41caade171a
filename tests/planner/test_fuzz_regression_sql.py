"""No crash on any input: PostgreSQL's own regression SQL through the planner.

Source: libpg_query's copy of PostgreSQL's regression suite
(``libpg_query/test/sql/postgres_regress/*.sql``, about 49,000 statements covering every
statement kind), shipped in the source distribution of pglast, which bluegreen already
depends on. The test downloads the sdist of the installed pglast version once with pip, the
project's own installer, and keeps only those files in pytest's cache directory
(``.pytest_cache``, never committed). Without network access to the package index and with
an empty cache it fails and says so, rather than skipping.

Every file is split into statements (psql's backslash commands dropped); each statement
must parse into operations or raise bluegreen's one-line "cannot parse" error, and the whole
file's statements are then planned together (locks and transactions accumulate) and
rendered as JSON. Any other exception is a crash. Runs in about 10 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

import pglast
import pytest

from bluegreen.errors import BluegreenError
from bluegreen.planner.engine import build_plan
from bluegreen.planner.model import Target
from bluegreen.planner.schema import Schema
from bluegreen.planner.sources.sql import parse_sql

REGRESS = "libpg_query/test/sql/postgres_regress/"


@pytest.fixture(scope="session")
def regression_sql(request) -> list[Path]:
    pglast_version = version("pglast")
    cache = Path(request.config.cache.mkdir(f"pglast-{pglast_version}-regress"))
    files = sorted(cache.glob("*.sql"))
    if len(files) > 100:
        return files
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"pglast=={pglast_version}", "--dest", tmp],
            capture_output=True, text=True, timeout=300)
        sdists = list(Path(tmp).glob("pglast-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            pytest.fail("cannot download the pglast sdist that carries PostgreSQL's "
                        f"regression SQL: {(proc.stderr or proc.stdout).strip()[-300:]}; "
                        "this test needs the package index once", pytrace=False)
        with tarfile.open(sdists[0]) as archive:
            for member in archive.getmembers():
                if REGRESS in member.name and member.name.endswith(".sql") and member.isfile():
                    source = archive.extractfile(member)
                    if source is not None:
                        (cache / Path(member.name).name).write_bytes(source.read())
    files = sorted(cache.glob("*.sql"))
    assert len(files) > 100, f"only {len(files)} regression files in the pglast sdist"
    return files


def _statements(text: str) -> list[str]:
    text = "\n".join("" if line.lstrip().startswith("\\") else line
                     for line in text.splitlines())
    try:
        return list(pglast.split(text, with_parser=False))
    except pglast.parser.ParseError:
        # The scanner itself gave up (a deliberate lexical error): fall back to semicolons.
        return [part for part in text.split(";\n") if part.strip()]


def test_no_crash_on_postgresql_regression_sql(regression_sql):
    crashes: list[str] = []
    statements = refused = 0
    for path in regression_sql:
        text = path.read_text(encoding="utf-8", errors="replace")
        parsed = []
        for sql in _statements(text):
            statements += 1
            try:
                parsed += parse_sql(sql, path.name)
            except BluegreenError as error:
                refused += 1
                assert "\n" not in error.message.strip(), error.message
            except Exception as error:  # a crash: collected, reported below
                crashes.append(f"{path.name}: {type(error).__name__}: {error}: {sql[:120]!r}")
        try:
            plan = build_plan(parsed, Schema(), Target("postgresql", 15, "default"))
            json.dumps(plan.to_dict())
        except Exception as error:
            crashes.append(f"{path.name} (plan): {type(error).__name__}: {error}")
    assert statements > 40_000
    assert crashes == [], crashes[:20]
    # Nearly everything parses: refusals are the suite's deliberate syntax errors.
    assert refused < statements * 0.05, refused
