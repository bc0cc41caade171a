"""The embedded default: copy, cutover, rollback and finish on SQLite with a writer running,
compared with what the writer committed; views, triggers and foreign keys of other tables
follow the live name."""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.errors import BluegreenError
from tests.support.writers import Pausable

SCHEMA = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL,
                     status TEXT NOT NULL DEFAULT 'new');
CREATE INDEX orders_customer ON orders (customer);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 500;
CREATE TABLE audit (order_id INTEGER);
CREATE TRIGGER orders_audit AFTER INSERT ON orders BEGIN INSERT INTO audit VALUES (NEW.id); END;
CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders (id));
"""
ALTER = "ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR'"


class SqliteWriter(Pausable):
    rest_timeout = 10.0

    def __init__(self, path: str, rows: int) -> None:
        super().__init__()
        self.path, self.rows = path, rows
        self.committed: dict[int, tuple | None] = {}
        self.errors: list[str] = []
        self.writes = 0

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        rng, next_id, live = random.Random(3), 1_000_000, list(range(1, self.rows + 1))
        while not self.done.is_set():
            if self.resting():
                continue
            try:
                roll = rng.random()
                if roll < 0.4:
                    next_id += 1
                    row = ("w", rng.randrange(1000), "new")
                    conn.execute("INSERT INTO orders (id, customer, amount, status) VALUES "
                                 "(?, ?, ?, ?)", (next_id, *row))
                    self.committed[next_id] = row
                    live.append(next_id)
                elif roll < 0.8:
                    key = rng.choice(live)
                    amount = rng.randrange(1000)
                    conn.execute("UPDATE orders SET amount = ?, status = 'paid' WHERE id = ?",
                                 (amount, key))
                    customer = conn.execute("SELECT customer FROM orders WHERE id = ?",
                                            (key,)).fetchone()[0]
                    self.committed[key] = (customer, amount, "paid")
                else:
                    key = live.pop(rng.randrange(len(live)))
                    conn.execute("DELETE FROM orders WHERE id = ?", (key,))
                    self.committed[key] = None
                self.writes += 1
            except sqlite3.Error as error:
                self.errors.append(str(error))
            time.sleep(0.001)
        conn.close()


def _rows(path: str) -> dict[int, tuple]:
    conn = sqlite3.connect(path)
    try:
        return {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT id, customer, amount, status FROM orders")}
    finally:
        conn.close()


def _check(path: str, writer: SqliteWriter) -> None:
    writer.hold()
    try:
        expected = {i: (f"c{i % 50}", i % 1000, "new") for i in range(1, 5001)}
        for key, row in writer.committed.items():
            if row is None:
                expected.pop(key, None)
            else:
                expected[key] = row
        assert _rows(path) == expected
        assert writer.errors == []
    finally:
        writer.release()


def test_lifecycle_on_sqlite_with_a_writer(sqlite_db):
    url, path = sqlite_db
    writer = SqliteWriter(path, 5000)
    writer.start()
    result = commands.copy(url, "orders", ALTER, CopyOptions(chunk_size=500))
    assert result.record.state == "synced"
    _check(path, writer)
    cut = commands.cutover(url, ["orders"])
    assert cut.records[0].state == "cut_over" and cut.lock_ms < 1000
    time.sleep(0.3)
    _check(path, writer)
    conn = sqlite3.connect(path)
    assert "currency" in [r[1] for r in conn.execute("PRAGMA table_info(orders)")]
    # The view, the trigger and the other table's foreign key follow the live name.
    assert conn.execute("SELECT count(*) FROM big_orders").fetchone()[0] > 0
    assert "REFERENCES orders" in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'refunds'").fetchone()[0]
    assert conn.execute("SELECT tbl_name FROM sqlite_master WHERE name = 'orders_audit'"
                        ).fetchone()[0] == "orders"
    conn.close()
    back = commands.rollback(url, ["orders"])
    assert back.records[0].state == "rolled_back"
    time.sleep(0.3)
    _check(path, writer)
    commands.cutover(url, ["orders"])
    time.sleep(0.3)
    _check(path, writer)
    records, _ = commands.finish(url, ["orders"])
    assert records[0].state == "finished"
    writer.stop()
    _check(path, writer)
    assert writer.writes > 100
    conn = sqlite3.connect(path)
    # SQLite cannot rename an index: the new table keeps its _bg1_ index name (documented).
    leftovers = conn.execute("SELECT name FROM sqlite_master WHERE type <> 'index' AND (name "
                             "LIKE '\\_bg%' ESCAPE '\\' OR name LIKE 'bluegreen_capture%' OR "
                             "name LIKE 'bluegreen_reverse%' OR name LIKE 'bluegreen_queue%')"
                             ).fetchall()
    audit = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    conn.close()
    assert leftovers == []
    # The audit trigger fired once per insert: the seeds, then the writer's, never twice.
    assert audit == 5000 + sum(1 for k in writer.committed if k > 1_000_000)


def test_sqlite_abort_and_refusals(sqlite_db):
    url, path = sqlite_db
    commands.copy(url, "orders", ALTER)
    record, _ = commands.abort(url, "orders")
    assert record.state == "aborted"
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_bg%' ESCAPE "
                        "'\\' OR name LIKE 'bluegreen_capture%'").fetchone()[0] == 0
    conn.execute("CREATE TABLE nokey (a INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(BluegreenError, match="does not exist"):
        commands.copy(url, "nope", "ALTER TABLE nope ADD COLUMN x INTEGER")
    with pytest.raises(BluegreenError, match="no primary key"):
        commands.copy(url, "nokey", "ALTER TABLE nokey ADD COLUMN x INTEGER")
    with pytest.raises(BluegreenError, match="does not build"):
        commands.copy(url, "orders", "ALTER TABLE orders DROP COLUMN nonexistent")
    with pytest.raises(BluegreenError, match="only hold ALTER TABLE orders"):
        commands.copy(url, "orders", "ALTER TABLE refunds ADD COLUMN x INTEGER")
    commands.copy(url, "orders", ALTER)
    with pytest.raises(BluegreenError, match="needs cut_over"):
        commands.finish(url, ["orders"])


def test_sqlite_url_mistakes(tmp_path):
    with pytest.raises(BluegreenError, match="give a file"):
        commands.init("sqlite://")
    with pytest.raises(BluegreenError, match="does not exist"):
        commands.status(f"sqlite:///{tmp_path}/missing/dir/app.db")


def test_sqlite_verify_and_repair(sqlite_db):
    url, path = sqlite_db
    commands.copy(url, "orders", "ALTER TABLE orders RENAME COLUMN status TO state",
                  CopyOptions(chunk_size=1000))
    assert commands.verify(url, "orders", chunk_rows=1000).equal
    record = commands.status(url, "orders")[0].record
    conn = sqlite3.connect(path)
    conn.execute(f'UPDATE "{record.shadow_table}" SET state = \'tampered\' WHERE id = 1234')
    conn.execute(f'DELETE FROM "{record.shadow_table}" WHERE id = 4321')
    conn.commit()
    conn.close()
    result = commands.verify(url, "orders", chunk_rows=1000)
    assert not result.equal and len(result.differing) == 2
    assert commands.verify(url, "orders", chunk_rows=1000, repair=True).repaired_keys >= 1000
    assert commands.verify(url, "orders", chunk_rows=1000).equal


def test_sqlite_dry_runs_change_nothing(sqlite_db):
    url, path = sqlite_db
    statements = commands.copy_dry_run(url, "orders", ALTER)
    text = "\n".join(statements)
    assert "CREATE TRIGGER" in text and "_bg<id>_orders_new" in text and "currency" in text
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM bluegreen_migrations").fetchone()[0] == 0
    conn.close()
    commands.copy(url, "orders", ALTER)
    cut = commands.cutover(url, ["orders"], dry_run=True)
    assert any("RENAME TO" in s for s in cut.statements)
    assert commands.status(url, "orders")[0].record.state == "synced"


def test_a_mistyped_sqlite_path_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    with pytest.raises(BluegreenError, match="no SQLite database at"):
        commands.status(f"sqlite:///{missing}")
    with pytest.raises(BluegreenError, match="no SQLite database at"):
        commands.init(f"sqlite:///{missing}")
    assert not missing.exists()


def test_an_unsupported_database_says_so():
    with pytest.raises(BluegreenError, match="mysql is not supported yet"):
        commands.status("mysql://root@127.0.0.1/test")
