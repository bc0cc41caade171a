"""bluegreen demo: the whole job on a sample app, while a simulated app keeps writing.

Creates a sample table, starts an app that inserts, updates and deletes and remembers what
committed, plans a two-revision migration, and runs it as a deploy pipeline would:
`apply --phase expand` (a new column; a type change by a shadow copy and a cutover),
`revert` (the release went wrong), expand again, and `apply --phase contract`. After each
step it compares the live table with what the app committed. Nothing here prints: the CLI
renders the events.
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.engines import urls

TABLE = "demo_orders"
# The migration, one revision per file, the same on both engines (on SQLite, which has no
# ALTER COLUMN ... TYPE, bluegreen rebuilds the table in its new shape).
MIGRATION = {
    "0002_add_note.sql": f"ALTER TABLE {TABLE} ADD COLUMN note text;\n",
    "0003_widen_amount.sql": f"ALTER TABLE {TABLE} ALTER COLUMN amount TYPE bigint;\n",
}
SCHEMA = (f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer text NOT NULL, "
          "amount integer NOT NULL, status text NOT NULL DEFAULT 'new');\n")


@dataclass
class StepResult:
    step: str
    seconds: float
    lock_ms: float | None
    rows: int
    matches: bool
    app_writes: int
    detail: str = ""


@dataclass
class DemoResult:
    database_url: str
    steps: list[StepResult] = field(default_factory=list)
    app_writes: int = 0
    app_errors: list[str] = field(default_factory=list)
    plan: object = None
    kept: bool = True  # False: the demo made its own SQLite file and removed it at the end

    @property
    def ok(self) -> bool:
        return all(s.matches for s in self.steps) and not self.app_errors


class _Db:
    """The sample app's connection, as an app would open it: SQLAlchemy, on either database,
    each statement committed on its own."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        parsed = urls.sqlalchemy_url(url)
        # The app does not prepare server-side (see README: prepared statements and type
        # changes); on SQLite it waits for the writer lock as long as bluegreen may hold it.
        connect_args = ({"prepare_threshold": None} if parsed.get_backend_name() == "postgresql"
                        else {"timeout": 30})
        self.engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool,
                                       connect_args=connect_args)
        self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._text = sa.text

    def execute(self, sql: str, params: tuple = ()):
        names = iter(range(len(params)))
        statement = re.sub(r"%s", lambda m: f":p{next(names)}", sql)
        return self.conn.execute(self._text(statement), {f"p{i}": v for i, v in
                                                          enumerate(params)})

    def insert_many(self, sql: str, rows: list[tuple]) -> None:
        names = iter(range(len(rows[0]) if rows else 0))
        statement = re.sub(r"%s", lambda m: f":p{next(names)}", sql)
        self.conn.execute(self._text(statement), [{f"p{i}": v for i, v in enumerate(row)}
                                                  for row in rows])

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class App(threading.Thread):
    """The simulated app (blue, then green): single-row writes, each committed on its own,
    remembered only once committed."""

    def __init__(self, url: str, first_id: int, rows: int) -> None:
        super().__init__(name="demo-app", daemon=True)
        self.url = url
        self.committed: dict[int, tuple | None] = {}
        self.errors: list[str] = []
        self.writes = 0
        self.next_id = first_id
        self.rows = rows
        self._stop_event = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._idle = threading.Event()

    def hold(self) -> None:
        self._go.clear()
        while self.is_alive() and not self._idle.wait(0.05):
            pass

    def release(self) -> None:
        self._idle.clear()
        self._go.set()

    def stop(self) -> None:
        self._stop_event.set()
        self._go.set()
        self.join(timeout=30)

    def run(self) -> None:
        rng = random.Random(42)
        db = _Db(self.url)
        live = list(range(1, self.rows + 1))
        try:
            while not self._stop_event.is_set():
                if not self._go.is_set():
                    self._idle.set()
                    self._go.wait(0.1)
                    continue
                try:
                    self._write(db, rng, live)
                    self.writes += 1
                except Exception as error:  # shown in the summary: the demo fails on any
                    self.errors.append(f"{type(error).__name__}: {error}".splitlines()[0])
                time.sleep(0.002)
        finally:
            db.close()

    def _write(self, db: _Db, rng: random.Random, live: list[int]) -> None:
        roll = rng.random()
        if roll < 0.4 or not live:
            self.next_id += 1
            row = (f"customer{rng.randrange(500)}", rng.randrange(10_000), "new")
            db.execute(f"INSERT INTO {TABLE} (id, customer, amount, status) VALUES "
                       "(%s, %s, %s, %s)", (self.next_id, *row))
            self.committed[self.next_id] = row
            live.append(self.next_id)
        elif roll < 0.85:
            key = rng.choice(live)
            amount, status = rng.randrange(10_000), rng.choice(["paid", "shipped"])
            db.execute(f"UPDATE {TABLE} SET amount = %s, status = %s WHERE id = %s",
                       (amount, status, key))
            old = self.committed.get(key) or (None, None, None)
            customer = old[0] if old[0] is not None else self._customer(db, key)
            self.committed[key] = (customer, amount, status)
        else:
            key = live.pop(rng.randrange(len(live)))
            db.execute(f"DELETE FROM {TABLE} WHERE id = %s", (key,))
            self.committed[key] = None

    @staticmethod
    def _customer(db: _Db, key: int) -> str:
        return db.execute(f"SELECT customer FROM {TABLE} WHERE id = %s", (key,)).fetchone()[0]


def _create_sample(url: str, rows: int) -> dict[int, tuple]:
    db = _Db(url)
    try:
        db.execute(f"DROP TABLE IF EXISTS {TABLE}")
        db.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, customer text NOT NULL, "
                   "amount integer NOT NULL, status text NOT NULL DEFAULT 'new')")
        db.execute(f"CREATE INDEX {TABLE}_customer_idx ON {TABLE} (customer)")
        db.insert_many(f"INSERT INTO {TABLE} (id, customer, amount) VALUES (%s, %s, %s)",
                       [(i, f"customer{i % 500}", i % 10_000) for i in range(1, rows + 1)])
    finally:
        db.close()
    return {i: (f"customer{i % 500}", i % 10_000, "new") for i in range(1, rows + 1)}


def _table_rows(url: str) -> dict[int, tuple]:
    db = _Db(url)
    try:
        return {r[0]: (r[1], int(r[2]), r[3]) for r in db.execute(
            f"SELECT id, customer, amount, status FROM {TABLE}").fetchall()}
    finally:
        db.close()


def _expected(seeds: dict[int, tuple], app: App) -> dict[int, tuple]:
    expected = dict(seeds)
    for key, row in app.committed.items():
        if row is None:
            expected.pop(key, None)
        else:
            expected[key] = row
    return expected


def run_demo(database_url: str | None = None, *, rows: int = 20_000, keep: bool = False,
             on_step: Callable[[str], None] | None = None, on_progress=None,
             on_event=None) -> DemoResult:
    """Run the whole lifecycle; returns what happened, step by step.

    Without ``database_url`` the demo runs on a new SQLite file in a temporary directory,
    removed at the end unless ``keep``; its migration files are always removed.
    """
    folder = None if database_url else Path(tempfile.mkdtemp(prefix="bluegreen-demo-"))
    url = database_url or f"sqlite:///{Path(str(folder)) / 'app.db'}"
    try:
        result = _run(url, rows, on_step or (lambda s: None), on_progress, on_event)
    finally:
        if folder is not None and not keep:
            shutil.rmtree(folder, ignore_errors=True)
    result.kept = folder is None or keep
    return result


def _run(url: str, rows: int, on_step: Callable[[str], None], on_progress,
         on_event) -> DemoResult:
    from bluegreen.core.apply.model import ApplyPhase
    from bluegreen.core.apply.runner import ApplyOptions
    from bluegreen.core.pace import ThrottleSettings
    from bluegreen.results import Progress

    result = DemoResult(urls.redact(url))  # shown in text and JSON: never a password
    on_step(f"creating the sample table {TABLE} with {rows:,} rows")
    seeds = _create_sample(url, rows)
    commands.init(url)

    def apply_events(event) -> None:
        """Copy progress to the progress bar, messages to the log, cutover times kept."""
        if event.event == "progress" and on_progress and "rows_copied" in (event.progress or {}):
            on_progress(Progress(**event.progress))
        elif event.event == "message" and on_event:
            on_event(event.message)
        elif event.event == "step" and event.status == "done" and event.blocked_ms is not None:
            blocked.append(event.blocked_ms)

    with tempfile.TemporaryDirectory(prefix="bluegreen-demo-migration-") as folder:
        paths = []
        for name, text in MIGRATION.items():
            (Path(folder) / name).write_text(text)
            paths.append(Path(folder) / name)
        schema = Path(folder) / "schema.sql"
        schema.write_text(SCHEMA)
        result.plan = commands.plan(paths, schema_file=schema)
        on_step("planned the migration: " + ", ".join(
            f"{c.operation} is {c.phase.value}{', blocking' if c.blocking else ''} -> "
            f"{c.strategy.value}" for c in result.plan.changes))

        app = App(url, first_id=rows, rows=rows)
        app.start()
        on_step("the app is writing (inserts, updates, deletes)")

        def check(step: str, started: float, lock_ms: float | None, detail: str = "") -> None:
            app.hold()
            try:
                actual = _table_rows(url)
                expected = _expected(seeds, app)
                matches = actual == expected
                if not matches:
                    missing = len(set(expected) - set(actual))
                    extra = len(set(actual) - set(expected))
                    changed = sum(1 for k in set(actual) & set(expected)
                                  if actual[k] != expected[k])
                    detail = f"{missing} missing, {extra} extra, {changed} changed rows"
                result.steps.append(StepResult(step, time.monotonic() - started, lock_ms,
                                               len(actual), matches, app.writes, detail))
            finally:
                app.release()

        throttle = ThrottleSettings(max_rows_per_second=rows / 3)
        options = {phase: ApplyOptions(phase=phase, throttle=throttle,
                                       copy_options=CopyOptions(chunk_size=2000,
                                                                throttle=throttle))
                   for phase in ApplyPhase}
        try:
            for step, run in (
                    ("apply --phase expand", lambda: commands.apply(
                        paths, url, options=options[ApplyPhase.EXPAND], on_event=apply_events)),
                    ("revert", lambda: commands.revert(
                        paths, url, options=options[ApplyPhase.EXPAND], on_event=apply_events,
                        confirm=lambda plan: True)),
                    ("apply --phase expand again", lambda: commands.apply(
                        paths, url, options=options[ApplyPhase.EXPAND], on_event=apply_events)),
                    ("apply --phase contract", lambda: commands.apply(
                        paths, url, options=options[ApplyPhase.CONTRACT],
                        on_event=apply_events))):
                on_step(step)
                blocked: list[float] = []
                started = time.monotonic()
                run()
                time.sleep(0.3)
                check(step, started, max(blocked) if blocked else None)
        finally:
            app.stop()
    result.app_writes = app.writes
    result.app_errors = app.errors
    return result
