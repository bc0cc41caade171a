"""Every row of the lock table (bluegreen/planner/locks.py) against a real PostgreSQL.

A row that may run in a transaction block runs inside one, on a fresh copy of the fixture
(after its setup, committed on its own):
the locks it holds are read from ``pg_locks``, a rewrite from the table's ``relfilenode``,
and a scan from the transaction's own scan counter (``pg_stat_get_xact_numscans``). A row
that PostgreSQL refuses in a transaction block (CONCURRENTLY, VACUUM FULL) runs from a second
connection while another session holds SHARE UPDATE EXCLUSIVE on the table: the lock it asks
for on the table is read while it waits, and its rewrite after it finished.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from bluegreen.planner.locks import _ORDER, ACCESS_SHARE, FIXTURE, LOCK_TABLE, LockRow
from bluegreen.planner.sources.sql import parse_sql

MODES = {
    "AccessShareLock": "ACCESS SHARE", "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE", "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE", "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE", "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}


def _strongest(modes) -> str | None:
    return max(modes, key=_ORDER.index, default=None)


def _fresh(pg) -> None:
    pg.execute("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS other CASCADE; "
               "CREATE SCHEMA public")
    pg.execute(FIXTURE)


def _oids(conn, row: LockRow) -> dict[str, int]:
    return {role: conn.execute("SELECT %s::regclass::oid", (name,)).fetchone()[0]
            for role, name in row.relations.items()}


def _relfilenode(conn, oid: int) -> int | None:
    found = conn.execute("SELECT relfilenode FROM pg_class WHERE oid = %s", (oid,)).fetchone()
    return found[0] if found else None


def _index_oid(conn, name: str) -> int:
    return conn.execute("SELECT %s::regclass::oid", (name,)).fetchone()[0]


def _locks_by_oid(conn, pid: int, *, granted_only: bool) -> dict[int, list[str]]:
    rows = conn.execute(
        "SELECT relation, mode FROM pg_locks WHERE pid = %s AND locktype = 'relation'"
        + (" AND granted" if granted_only else ""), (pid,)).fetchall()
    out: dict[int, list[str]] = {}
    for oid, mode in rows:
        out.setdefault(oid, []).append(MODES[mode])
    return out


def _check_locks(row: LockRow, oids: dict[str, int], held: dict[int, list[str]]) -> None:
    for role, oid in oids.items():
        actual = _strongest(held.get(oid, []))
        expected = row.locks.get(role)
        if expected is None:
            # Not in the row: at most a read lock (e.g. a view's query reading the table).
            assert actual in (None, ACCESS_SHARE), (row.kind, role, actual)
        else:
            assert actual == expected, (row.kind, role, actual, expected)


def _scanned_role(row: LockRow) -> str:
    return "partition" if "partition" in row.relations else "table"


IN_TRANSACTION = [pytest.param(r, id=r.kind) for r in LOCK_TABLE if r.in_transaction]
OUTSIDE = [pytest.param(r, id=r.kind) for r in LOCK_TABLE if not r.in_transaction]


@pytest.mark.parametrize("row", IN_TRANSACTION)
def test_row_in_a_transaction(pg, row: LockRow):
    _fresh(pg)
    if row.setup:
        pg.execute(row.setup)
    pg.execute("BEGIN")
    try:
        oids = _oids(pg, row)
        target = oids[_scanned_role(row)]
        before = _relfilenode(pg, target)
        index_oid = _index_oid(pg, row.rebuilds_index) if row.rebuilds_index else None
        index_before = _relfilenode(pg, index_oid) if index_oid else None
        scans_before = pg.execute("SELECT pg_stat_get_xact_numscans(%s)", (target,)).fetchone()[0]
        pg.execute(row.example)
        held = _locks_by_oid(pg, pg.info.backend_pid, granted_only=True)
        scans = pg.execute("SELECT pg_stat_get_xact_numscans(%s)", (target,)).fetchone()[0]
        after = _relfilenode(pg, target)
        index_after = _relfilenode(pg, index_oid) if index_oid else None
    finally:
        pg.execute("ROLLBACK")
    _check_locks(row, oids, held)
    rewritten = before is not None and after is not None and after != before
    assert rewritten == row.rewrites, (row.kind, "rewrites", rewritten)
    assert (scans > scans_before) == (row.scans or row.rebuilds_index is not None), (
        row.kind, "scans", scans - scans_before)
    if index_oid:
        assert index_after != index_before, (row.kind, "index not rebuilt")


@pytest.mark.parametrize("row", OUTSIDE)
def test_row_outside_a_transaction(pg, pg_url, row: LockRow):
    """The statement waits behind a session holding the table; its request is read then."""
    _fresh(pg)
    if row.setup:
        pg.execute(row.setup)
    oids = _oids(pg, row)
    before = _relfilenode(pg, oids[_scanned_role(row)])
    reader = psycopg.connect(pg_url)
    worker = psycopg.connect(pg_url, autocommit=True)
    errors: list[BaseException] = []
    try:
        # SHARE UPDATE EXCLUSIVE conflicts with every mode these statements take first, so
        # the statement waits for it, its request visible in pg_locks.
        reader.execute(f"LOCK TABLE {row.relations['table']} IN SHARE UPDATE EXCLUSIVE MODE")
        worker.execute("SET statement_timeout = '30s'")
        pid = worker.info.backend_pid

        def run() -> None:
            try:
                worker.execute(row.example)
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        held: dict[int, list[str]] = {}
        deadline = time.monotonic() + 10
        # Poll while it waits: it may take a weaker lock on the way to the one in the row.
        while time.monotonic() < deadline:
            held = _locks_by_oid(pg, pid, granted_only=False)
            if _strongest(held.get(oids["table"], [])) == row.locks["table"]:
                break
            time.sleep(0.05)
        reader.rollback()
        thread.join(30)
        assert not thread.is_alive(), f"{row.kind} did not finish"
    finally:
        reader.close()
        worker.close()
    assert errors == [], (row.kind, errors)
    # Only the first lock it asks for is seen while it waits: the one on the table.
    table_lock = _strongest(held.get(oids["table"], []))
    assert table_lock == row.locks["table"], (row.kind, table_lock)
    after = _relfilenode(pg, oids[_scanned_role(row)])
    rewritten = before is not None and after is not None and after != before
    assert rewritten == row.rewrites, (row.kind, "rewrites", rewritten)


def test_the_lock_table_covers_what_the_planner_maps():
    """Every kind the planner gives an operation is a row of the table."""
    from bluegreen.planner.locks import BY_KIND, kind_of

    sql = ";\n".join(row.example for row in LOCK_TABLE) + ";"
    for statement in parse_sql(sql, "rows.sql"):
        for op in statement.ops:
            kind = kind_of(op)
            assert kind is None or kind in BY_KIND, (statement.sql, kind)


def test_rows_checked_against_the_server():
    """How many rows the two tests above run on the server (reported in the README)."""
    assert len(IN_TRANSACTION) + len(OUTSIDE) == len(LOCK_TABLE) >= 60
