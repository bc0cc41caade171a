"""Fixtures for the SQLite integration tests."""

from __future__ import annotations

import sqlite3

import pytest

from bluegreen import commands
from tests.engines.sqlite.test_lifecycle import SCHEMA


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, 'new')",
                     [(i, f"c{i % 50}", i % 1000) for i in range(1, 5001)])
    conn.commit()
    conn.close()
    url = f"sqlite:///{path}"
    commands.init(url)
    return url, str(path)
