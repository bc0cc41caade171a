"""bluegreen apply and revert on SQLite, the embedded default: a SQL migration with a direct
change, a type change SQLite's ALTER cannot make (a table rebuild) and a batched update,
while a writer keeps writing."""

from __future__ import annotations

import os
import socket
import sqlite3

import pytest

from bluegreen import commands
from bluegreen.core.apply.model import ApplyPhase
from bluegreen.core.apply.runner import ApplyOptions
from bluegreen.errors import ApplyBusy
from tests.engines.sqlite.test_lifecycle import SqliteWriter, _check

MIGRATION = {
    "001_note.sql": "ALTER TABLE orders ADD COLUMN note TEXT;\n",
    "002_widen.sql": "ALTER TABLE orders ALTER COLUMN amount TYPE BIGINT;\n",
    "003_fill.sql": "UPDATE orders SET note = 'n' WHERE note IS NULL;\n",
}


def migration(tmp_path) -> list:
    out = []
    for name, text in MIGRATION.items():
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def options(phase: str) -> ApplyOptions:
    return ApplyOptions(phase=ApplyPhase(phase), lock_timeout_ms=500, chunk_rows=500)


def schema(path: str) -> list[tuple]:
    """sqlite_master, with identifiers unquoted: a rename makes SQLite rewrite an index's
    `ON orders` as `ON "orders"`, the same index."""
    conn = sqlite3.connect(path)
    try:
        return sorted((kind, name, (text or "").replace('"', "")) for kind, name, text in
                      conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT "
                                   "LIKE 'bluegreen%' AND name NOT LIKE 'sqlite%'"))
    finally:
        conn.close()


def test_apply_expand_and_contract_on_sqlite_with_a_writer(sqlite_db, tmp_path):
    url, path = sqlite_db
    paths = migration(tmp_path)
    writer = SqliteWriter(path, 5000)
    writer.start()
    expand = commands.apply(paths, url, options=options("expand"))
    assert expand.steps_run == 4  # add column, rebuild copy, cutover, batched update
    _check(path, writer)
    contract = commands.apply(paths, url, options=options("contract"))
    assert contract.steps_run == 1  # drop the old table
    _check(path, writer)
    writer.stop()
    conn = sqlite3.connect(path)
    columns = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(orders)")}
    assert columns["amount"].upper() == "BIGINT" and "note" in columns
    assert conn.execute("SELECT count(*) FROM orders WHERE id <= 5000 AND note IS NULL"
                        ).fetchone()[0] == 0
    # The view, trigger and foreign key of the table came through the rebuild.
    assert conn.execute("SELECT count(*) FROM big_orders").fetchone()[0] > 0
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE "
                                       "'\\_bg%' ESCAPE '\\' AND type = 'table'")] == []
    conn.close()
    before = schema(path)
    again = commands.apply(paths, url, options=options("contract"))
    assert again.nothing_to_do and schema(path) == before


def test_revert_on_sqlite_restores_the_schema(sqlite_db, tmp_path):
    url, path = sqlite_db
    paths = migration(tmp_path)
    before = schema(path)
    writer = SqliteWriter(path, 5000)
    writer.start()
    commands.apply(paths, url, options=options("expand"))
    result = commands.revert(paths, url, options=options("expand"),
                             confirm=lambda plan: True)
    assert result.steps_undone == 4
    _check(path, writer)
    writer.stop()
    assert schema(path) == before


def test_one_apply_at_a_time_on_sqlite(sqlite_db, tmp_path):
    url, path = sqlite_db
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO bluegreen_apply_lock (id, pid, host, since) VALUES (1, ?, ?, "
                 "'2026-12-01T03:00:00+00:00')", (os.getpid(), socket.gethostname()))
    conn.commit()
    with pytest.raises(ApplyBusy, match=f"pid {os.getpid()} on host"):
        commands.apply(migration(tmp_path), url, options=options("expand"))
    # A holder that is gone (same host, no such process) does not block the next apply.
    conn.execute("UPDATE bluegreen_apply_lock SET pid = 2147483600")
    conn.commit()
    conn.close()
    assert commands.apply(migration(tmp_path), url, options=options("expand")).steps_run == 4
