"""The contract every engine keeps, one suite run against each registered engine (as
Alembic's testing suite runs against every backend): the lifecycle under a live writer,
checked against what the writer committed; the refusals, in one line, changing nothing; a
copy stopped by a signal resumes; pause holds the copy; abort and commands run twice.

A new engine adds itself to ``ENGINES`` below (a fixture that yields a fresh database with
the table ``items``) and runs ``pytest tests/engines/test_contract.py -k <name>``.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from bluegreen import commands, engines
from bluegreen.core.copy import CopyOptions
from bluegreen.core.pace import ThrottleSettings
from bluegreen.errors import BluegreenError
from tests.support.writers import Pausable

ROWS = 3000
TABLE = """CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL,
                              qty integer NOT NULL DEFAULT 0)"""
ALTER = "ALTER TABLE items ADD COLUMN note text"


@dataclass
class Db:
    """A fresh database of one engine, and how a test (or the app) connects to it."""

    name: str
    url: str  # what bluegreen is given
    connect: Callable[[], Any]  # a DB-API connection in autocommit mode
    mark: str  # the driver's parameter marker

    def sql(self, statement: str) -> str:
        return statement.replace("?", self.mark)

    def rows(self, table: str = "items") -> dict[int, tuple]:
        conn = self.connect()
        try:
            return {r[0]: tuple(r[1:]) for r in conn.execute(
                f"SELECT id, name, qty FROM {table}").fetchall()}
        finally:
            conn.close()

    def scalar(self, query: str) -> Any:
        conn = self.connect()
        try:
            return conn.execute(query).fetchone()[0]
        finally:
            conn.close()


def _seed(db: Db) -> None:
    conn = db.connect()
    try:
        conn.execute(TABLE)
        cur = conn.cursor()
        cur.executemany(db.sql("INSERT INTO items (id, name, qty) VALUES (?, ?, ?)"),
                        [(i, f"n{i}", i % 100) for i in range(1, ROWS + 1)])
    finally:
        conn.close()


def _postgresql(request) -> Db:
    from tests.conftest import sqlalchemy_url

    pg_url = request.getfixturevalue("pg_url")
    request.getfixturevalue("pg")  # an empty public schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    db = Db("postgresql", sqlalchemy_url(pg_url),
            lambda: psycopg.connect(pg_url, autocommit=True), "%s")
    return db


def _sqlite(request) -> Db:
    path = request.getfixturevalue("tmp_path") / "app.db"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    sqlite3.connect(path).close()
    return Db("sqlite", f"sqlite:///{path}", connect, "?")


ENGINES: dict[str, Callable[[Any], Db]] = {"postgresql": _postgresql, "sqlite": _sqlite}


def test_every_registered_engine_is_under_contract():
    assert set(ENGINES) == set(engines.supported())


@pytest.fixture(params=sorted(ENGINES))
def db(request) -> Iterator[Db]:
    db = ENGINES[request.param](request)
    _seed(db)
    commands.init(db.url)
    yield db


class Writer(Pausable):
    """The app: inserts, updates and deletes in autocommit, recording what committed."""

    def __init__(self, db: Db, seed: int = 7) -> None:
        super().__init__()
        self.db = db
        self.rng = random.Random(seed)
        self.committed: dict[int, tuple | None] = {}
        self.errors: list[str] = []
        self.writes = 0

    def hold(self) -> bool:
        assert super().hold(), "the writer did not come to rest"
        return True

    def run(self) -> None:
        conn = self.db.connect()
        live, next_id = list(range(1, ROWS + 1)), 10_000_000
        while not self.done.is_set():
            if self.resting():
                continue
            roll = self.rng.random()
            try:
                if roll < 0.4:
                    next_id += 1
                    row = (f"w{next_id}", self.rng.randrange(100))
                    conn.execute(self.db.sql("INSERT INTO items (id, name, qty) VALUES "
                                             "(?, ?, ?)"), (next_id, *row))
                    self.committed[next_id] = row
                    live.append(next_id)
                elif roll < 0.8:
                    key = self.rng.choice(live)
                    qty = self.rng.randrange(100)
                    name = conn.execute(self.db.sql(
                        "UPDATE items SET qty = ? WHERE id = ? RETURNING name"),
                        (qty, key)).fetchone()[0]
                    self.committed[key] = (name, qty)
                else:
                    key = live.pop(self.rng.randrange(len(live)))
                    conn.execute(self.db.sql("DELETE FROM items WHERE id = ?"), (key,))
                    self.committed[key] = None
                self.writes += 1
            except Exception as error:  # noqa: BLE001 - every failed write is a finding
                self.errors.append(str(error).splitlines()[0])
            time.sleep(0.001)
        conn.close()

    def expected(self) -> dict[int, tuple]:
        out = {i: (f"n{i}", i % 100) for i in range(1, ROWS + 1)}
        for key, row in self.committed.items():
            if row is None:
                out.pop(key, None)
            else:
                out[key] = row
        return out


def _check(db: Db, writer: Writer, table: str = "items") -> None:
    """The table holds exactly what the writer committed (the writer paused meanwhile)."""
    writer.hold()
    try:
        assert db.rows(table) == writer.expected()
        assert writer.errors == []
    finally:
        writer.release()


def test_lifecycle_under_a_writer_loses_nothing(db: Db):
    writer = Writer(db)
    writer.start()
    try:
        result = commands.copy(db.url, "items", ALTER, CopyOptions(chunk_size=400))
        assert result.record.state == "synced"
        assert result.record.rows_copied >= ROWS - ROWS // 5
        time.sleep(0.3)
        cut = commands.cutover(db.url, ["items"])
        assert [r.state for r in cut.records] == ["cut_over"]
        time.sleep(0.3)
        _check(db, writer)
        assert "note" in _columns(db)  # the new shape is live
        back = commands.rollback(db.url, ["items"])
        assert [r.state for r in back.records] == ["rolled_back"]
        time.sleep(0.3)
        _check(db, writer)  # writes made after cutover came back with the rollback
        assert "note" not in _columns(db)
        commands.copy(db.url, "items", None)  # resync after rollback
        commands.cutover(db.url, ["items"])
        time.sleep(0.3)
        _check(db, writer)
        done = commands.finish(db.url, ["items"])
        assert [r.state for r in done.records] == ["finished"]
        _check(db, writer)
        assert writer.writes > 100
    finally:
        writer.stop()
    assert _leftovers(db) == []


def test_commands_run_twice_change_nothing_the_second_time(db: Db):
    commands.copy(db.url, "items", ALTER, CopyOptions(chunk_size=1000))
    again = commands.copy(db.url, "items", ALTER)  # resumes: already synced
    assert again.record.state == "synced" and again.resumed
    commands.cutover(db.url, ["items"])
    assert commands.cutover(db.url, ["items"]).already  # nothing to do, and no error
    assert commands.copy(db.url, "items", ALTER).already  # the copy, run again: the same
    assert "note" in _columns(db)
    commands.rollback(db.url, ["items"])
    assert commands.rollback(db.url, ["items"]).already
    assert "note" not in _columns(db)
    commands.cutover(db.url, ["items"])
    commands.finish(db.url, ["items"])
    again = commands.finish(db.url, ["items"])
    assert again.already and again.statements == []
    assert [r.state for r in again.records] == ["finished"]
    with pytest.raises(BluegreenError, match="no active"):  # a new copy is needed first
        commands.cutover(db.url, ["items"])
    assert db.rows() == {i: (f"n{i}", i % 100) for i in range(1, ROWS + 1)}


@pytest.mark.parametrize("call, message", [
    (lambda url: commands.copy(url, "missing", ALTER), "missing"),
    (lambda url: commands.copy(url, "items", "  "), "--alter is empty"),
    (lambda url: commands.copy(url, "items", None), "no copy of items to resume"),
    (lambda url: commands.cutover(url, ["items"]), "items"),
    (lambda url: commands.rollback(url, ["items"]), "items"),
    (lambda url: commands.abort(url, "items"), "items"),
])
def test_refusals_say_what_to_do_and_change_nothing(db: Db, call, message):
    before = _objects(db)
    with pytest.raises(BluegreenError, match=message) as error:
        call(db.url)
    assert "\n" not in error.value.message and error.value.exit_code == 2
    assert _objects(db) == before


def test_a_table_without_a_primary_key_is_refused(db: Db):
    conn = db.connect()
    conn.execute("CREATE TABLE logs (line text)")
    conn.close()
    with pytest.raises(BluegreenError, match="primary key"):
        commands.copy(db.url, "logs", "ALTER TABLE logs ADD COLUMN at text")
    assert _leftovers(db) == []


def test_an_unknown_scheme_names_the_supported_ones():
    with pytest.raises(BluegreenError, match="postgresql.*sqlite|sqlite.*postgresql"):
        engines.backend("oracle://scott@db/orcl")


def test_abort_mid_copy_removes_everything_and_a_second_abort_changes_nothing(db: Db):
    stop = threading.Event()
    options = CopyOptions(chunk_size=100, throttle=ThrottleSettings(max_rows_per_second=2000))
    thread = threading.Thread(target=_copy_until_error, args=(db, options, stop), daemon=True)
    thread.start()
    _wait_for(lambda: _rows_copied(db) >= 200, "the copy to start")
    commands.abort(db.url, "items")
    thread.join(30)
    assert not thread.is_alive()
    assert _leftovers(db) == []
    again = commands.abort(db.url, "items")  # a pipeline's second abort: nothing to do
    assert again.already and again.record.state == "aborted"
    with pytest.raises(BluegreenError, match="no active migration|nothing to abort"):
        commands.abort(db.url, "never_copied")
    assert db.rows() == {i: (f"n{i}", i % 100) for i in range(1, ROWS + 1)}


def test_pause_holds_the_copy_and_resume_lets_it_finish(db: Db):
    stop = threading.Event()
    options = CopyOptions(chunk_size=100, throttle=ThrottleSettings(max_rows_per_second=3000))
    thread = threading.Thread(target=_copy_until_error, args=(db, options, stop), daemon=True)
    thread.start()
    _wait_for(lambda: _rows_copied(db) >= 200, "the copy to start")
    commands.set_paused(db.url, "items", True)
    time.sleep(0.8)  # one chunk may have been under way
    held = _rows_copied(db)
    time.sleep(1.0)
    assert _rows_copied(db) == held < ROWS
    commands.set_paused(db.url, "items", False)
    thread.join(60)
    assert _state(db) == "synced"


def test_a_copy_killed_mid_backfill_resumes_from_its_checkpoints(db: Db):
    """SIGKILL, no clean-up: the next run resumes the same migration and loses nothing."""
    writer = Writer(db, seed=11)
    writer.start()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "bluegreen", "copy", "items", "--alter", ALTER,
             "--database-url", db.url, "--chunk-size", "100", "--max-rows-per-second",
             "1500"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"})
        _wait_for(lambda: _rows_copied(db) >= 300, "the copy to start")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = _rows_copied(db)
        assert killed_at < ROWS
        result = commands.copy(db.url, "items", None, CopyOptions(chunk_size=500))
        assert result.resumed and result.record.state == "synced"
        commands.cutover(db.url, ["items"])
        time.sleep(0.3)
        _check(db, writer)
    finally:
        writer.stop()


# ---- helpers -------------------------------------------------------------------------------


def _copy_until_error(db: Db, options: CopyOptions, stop: threading.Event) -> None:
    try:
        commands.copy(db.url, "items", ALTER, options)
    except BluegreenError:
        pass


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - the state tables may not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _state_table(db: Db) -> str:
    return "bluegreen.migrations" if db.name == "postgresql" else "bluegreen_migrations"


def _rows_copied(db: Db) -> int:
    return db.scalar(f"SELECT coalesce(max(rows_copied), 0) FROM {_state_table(db)} "
                     "WHERE table_name LIKE '%items'")


def _state(db: Db) -> str:
    return db.scalar(f"SELECT state FROM {_state_table(db)} WHERE table_name LIKE '%items' "
                     "ORDER BY id DESC LIMIT 1")


def _columns(db: Db) -> list[str]:
    conn = db.connect()
    try:
        cursor = conn.execute("SELECT * FROM items LIMIT 0")
        return [d[0] for d in cursor.description]
    finally:
        conn.close()


def _objects(db: Db) -> list[str]:
    """Every table, view and trigger of the app (bluegreen's own state excluded)."""
    conn = db.connect()
    try:
        if db.name == "postgresql":
            rows = conn.execute(
                "SELECT c.relkind::text || ':' || c.relname FROM pg_class c JOIN pg_namespace n ON "
                "n.oid = c.relnamespace WHERE n.nspname = 'public' UNION ALL SELECT 't:' || "
                "tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1").fetchall()
        else:
            rows = conn.execute("SELECT type || ':' || name FROM sqlite_master WHERE name "
                                "NOT LIKE 'bluegreen%' AND name NOT LIKE 'sqlite%' "
                                "ORDER BY 1").fetchall()
        return [r[0] for r in rows]
    finally:
        conn.close()


def _leftovers(db: Db) -> list[str]:
    """Shadow, old and queue tables and capture triggers a migration left behind."""
    return [o for o in _objects(db) if "_bg" in o or "bluegreen" in o]
