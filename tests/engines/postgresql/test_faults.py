"""A fault matrix (issue 10, item 20): for each step of a migration (copy while filling, copy
while replaying, verify, cutover, rollback, finish), bluegreen is killed with kill -9, or its
database session is terminated, while the app writes to tables with uuid and composite keys,
a dropped column, foreign keys both ways and a view over a changed type. Then the documented
recovery command runs, and the cycle goes on to the end: the tables hold what the writers
committed (the dropped column's values included, in the old table), no writer saw an error,
and nothing of bluegreen's is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from tests.engines.postgresql.test_production import bluegreen_objects, one_line_error
from tests.support.writers import Writer

SCHEMA = """
CREATE TABLE accounts (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
    account_id uuid NOT NULL REFERENCES accounts (id),
    n integer NOT NULL,
    amount integer NOT NULL,
    junk text,
    legacy text,
    note text,
    PRIMARY KEY (account_id, n)
);
ALTER TABLE orders DROP COLUMN junk;
CREATE TABLE shipments (
    id bigserial PRIMARY KEY,
    account_id uuid NOT NULL,
    n integer NOT NULL,
    FOREIGN KEY (account_id, n) REFERENCES orders ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE VIEW order_totals AS
    SELECT account_id, sum(amount) AS total, count(*) AS orders FROM orders GROUP BY account_id;
"""
# The contract step of an app that stopped using `legacy`, and a type change under a view.
ALTER = ("ALTER TABLE orders ALTER COLUMN amount TYPE bigint, DROP COLUMN legacy, "
         "ADD COLUMN status text DEFAULT 'new'")
ACCOUNTS = 24
ORDERS_PER_ACCOUNT = 120

STEPS = ["copy-fill", "copy-replay", "verify", "cutover", "rollback", "finish"]
FAULTS = ["kill-9", "terminate"]


class App:
    """The app: writers on orders and shipments, each on its own accounts, remembering what
    committed (and where each row's `legacy` value went)."""

    def __init__(self, url: str, seeds: dict, legacy: dict, accounts: list[uuid.UUID]) -> None:
        self.seeds = seeds
        self.legacy = legacy
        self.writers = [self._writer(url, i, accounts[i::2]) for i in range(2)]

    def _writer(self, url: str, index: int, accounts: list[uuid.UUID]) -> Writer:
        live = [k for k in self.seeds if k[0] in accounts]
        next_n = [10_000 + index]

        def new_n() -> int:
            next_n[0] += 2
            return next_n[0]

        def write(conn, rng, committed):
            roll = rng.random()
            if roll < 0.25 or not live:
                key = (rng.choice(accounts), new_n())
                amount = rng.randrange(10_000)
                conn.execute("INSERT INTO orders (account_id, n, amount, note) VALUES "
                             "(%s, %s, %s, 'new')", (*key, amount))
                committed[key] = (amount, "new")
                self.legacy[key] = None
                live.append(key)
            elif roll < 0.6:
                key = rng.choice(live)
                value = (rng.randrange(10_000), f"u{rng.randrange(1000)}")
                conn.execute("UPDATE orders SET amount = %s, note = %s WHERE account_id = %s "
                             "AND n = %s", (*value, *key))
                committed[key] = value
            elif roll < 0.72:
                old = live.pop(rng.randrange(len(live)))
                key = (old[0], new_n())
                conn.execute("UPDATE orders SET n = %s WHERE account_id = %s AND n = %s",
                             (key[1], *old))
                committed[key] = committed.get(old, self.seeds.get(old))
                committed[old] = None
                self.legacy[key] = self.legacy.pop(old, None)
                live.append(key)
            elif roll < 0.82:
                key = live.pop(rng.randrange(len(live)))
                conn.execute("DELETE FROM orders WHERE account_id = %s AND n = %s", key)
                committed[key] = None
                self.legacy.pop(key, None)
            else:
                conn.execute("INSERT INTO shipments (account_id, n) VALUES (%s, %s)",
                             rng.choice(live))

        return Writer(url, write, f"orders-{index}", pause=0.003, prepare=False)

    def start(self) -> None:
        for writer in self.writers:
            writer.start()

    def expected(self) -> dict:
        out = dict(self.seeds)
        for writer in self.writers:
            for key, row in writer.committed.items():
                if row is None:
                    out.pop(key, None)
                else:
                    out[key] = row
        return out

    def check(self, pg, *, old_shape: bool) -> None:
        for writer in self.writers:
            writer.hold()
        try:
            errors = [e for w in self.writers for e in w.errors]
            assert errors == [], errors[:3]
            rows = {(a, n): (int(amount), note) for a, n, amount, note in pg.execute(
                "SELECT account_id, n, amount, note FROM orders")}
            expected = self.expected()
            assert rows == expected
            if old_shape:  # the dropped column, as the old table kept it
                legacy = dict(pg.execute("SELECT (account_id, n)::text, legacy FROM orders")
                              .fetchall())
                assert legacy == {f"({a},{n})": self.legacy.get((a, n))
                                  for a, n in expected}
            assert pg.execute("SELECT count(*) FROM shipments s WHERE NOT EXISTS (SELECT FROM "
                              "orders o WHERE (o.account_id, o.n) = (s.account_id, s.n))"
                              ).fetchone()[0] == 0
        finally:
            for writer in self.writers:
                writer.release()

    def stop(self) -> None:
        for writer in self.writers:
            writer.stop()
        for writer in self.writers:
            assert writer.errors == [], writer.errors[:3]
            assert writer.writes > 30


def seed(pg) -> tuple[dict, dict, list[uuid.UUID]]:
    pg.execute(SCHEMA)
    accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
    with pg.cursor() as cur:
        cur.executemany("INSERT INTO accounts VALUES (%s, 'a')", [(a,) for a in accounts])
        rows = [(a, n, n * 7 % 1000, f"L{i}-{n}", "seed")
                for i, a in enumerate(accounts) for n in range(1, ORDERS_PER_ACCOUNT + 1)]
        cur.executemany("INSERT INTO orders (account_id, n, amount, legacy, note) VALUES "
                        "(%s, %s, %s, %s, %s)", rows)
    pg.execute("INSERT INTO shipments (account_id, n) SELECT account_id, n FROM orders "
               "WHERE n % 10 = 0")
    pg.execute("ANALYZE")
    seeds = {(a, n): (amount, note) for a, n, amount, _, note in rows}
    legacy = {(a, n): lg for a, n, _, lg, _ in rows}
    return seeds, legacy, accounts


def bluegreen_sessions(pg) -> int:
    return pg.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND application_name LIKE 'bluegreen%%' AND pid <> pg_backend_pid()"
                      ).fetchone()[0]


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


SPAWNED: list[subprocess.Popen] = []


def spawn(url: str, *args: str) -> subprocess.Popen:
    # PYTHONFAULTHANDLER: a run that hangs shows where, when the test stops it (SIGABRT).
    proc = subprocess.Popen([sys.executable, "-m", "bluegreen", *args, "--database-url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    SPAWNED.append(proc)
    return proc


def first_lock(url: str, action: str) -> str:
    """The relation a switch (or finish) waits for: the first it locks, as its dry run
    prints it. The others are taken without waiting."""
    if action == "finish":
        _, statements = commands.finish(url, ["orders"], dry_run=True)
    else:
        statements = getattr(commands, action)(url, ["orders"], dry_run=True).statements
    lock = next(s for s in statements if s.startswith("LOCK TABLE "))
    return lock[len("LOCK TABLE "):].split(" IN ")[0]


def run_cli(url: str, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "bluegreen", *args, "--database-url", url],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, (args, result.stderr)


def inject(pg, proc: subprocess.Popen, fault: str) -> None:
    """kill -9 of bluegreen, or pg_terminate_backend of its sessions; either way one line
    (or nothing, for kill -9) and no traceback."""
    if fault == "kill-9":
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return
    pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
               "current_database() AND application_name LIKE 'bluegreen%%' AND pid <> "
               "pg_backend_pid()")
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"bluegreen did not stop after its sessions were terminated: "
                             f"{err[-3000:]}") from None
    one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", STEPS)
def test_a_fault_at_each_step_then_the_documented_recovery(bg, pg, pg_url, step, fault):
    seeds, legacy, accounts = seed(pg)
    app = App(bg, seeds, legacy, accounts)
    app.start()
    time.sleep(0.2)
    record = None
    blocker: psycopg.Connection | None = None

    def hold_lock(table: str) -> None:
        """A session that reads `table` (a quoted, maybe qualified name) and keeps its
        transaction open: the next step waits for its lock, where the fault strikes."""
        nonlocal blocker
        blocker = psycopg.connect(pg_url)
        blocker.execute(f"SELECT 1 FROM {table} LIMIT 1")

    def release() -> None:
        nonlocal blocker
        if blocker is not None:
            blocker.close()
            blocker = None

    def waiting(application: str) -> bool:
        return pg.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                          "current_database() AND application_name = %s AND wait_event_type "
                          "= 'Lock'", (application,)).fetchone()[0] > 0

    try:
        # copy, with the fault while filling or while replaying
        if step == "copy-fill":
            proc = spawn(bg, "copy", "orders", "--alter", ALTER, "--chunk-size", "200",
                         "--max-rows-per-second", "1500")
            wait_for(lambda: pg.execute("SELECT coalesce(max(rows_copied), 0) FROM "
                                        "bluegreen.migrations").fetchone()[0] >= 400,
                     "the backfill")
            inject(pg, proc, fault)
            assert not commands.status(bg, "orders")[0].record.backfill_done
            wait_for(lambda: bluegreen_sessions(pg) == 0, "the killed sessions to end")
            run_cli(bg, "copy", "orders")
        else:
            commands.copy(bg, "orders", ALTER, CopyOptions(chunk_size=500))
        if step == "copy-replay":
            proc = spawn(bg, "copy", "orders", "--follow")
            wait_for(lambda: pg.execute("SELECT rows_replayed FROM bluegreen.migrations"
                                        ).fetchone()[0] > 0 and bluegreen_sessions(pg) > 0,
                     "the replay")
            time.sleep(0.5)
            inject(pg, proc, fault)
            wait_for(lambda: bluegreen_sessions(pg) == 0, "the killed sessions to end")
            run_cli(bg, "copy", "orders")
        record = commands.status(bg, "orders")[0].record
        # verify, with the fault while it waits for the shadow
        if step == "verify":
            hold_lock(f'"{record.shadow_table}"')
            blocker.execute(f'LOCK TABLE "{record.shadow_table}" IN ACCESS EXCLUSIVE MODE')
            proc = spawn(bg, "verify", "orders")
            wait_for(lambda: waiting("bluegreen-verify"), "verify to wait")
            inject(pg, proc, fault)
            release()
            wait_for(lambda: bluegreen_sessions(pg) == 0, "the killed sessions to end")
            run_cli(bg, "verify", "orders")
        else:
            assert commands.verify(bg, "orders").equal
        # cutover, rollback, cutover again, finish; the fault while one waits for its locks
        struck = False
        for action, old_shape in (("cutover", False), ("rollback", True), ("cutover", False),
                                  ("finish", False)):
            if step == action and not struck:
                struck = True
                hold_lock(first_lock(bg, action))
                proc = spawn(bg, action, "orders", "--yes", "--lock-timeout", "30000")
                wait_for(lambda a=action: waiting(f"bluegreen-{a}"), f"{action} to wait")
                inject(pg, proc, fault)
                release()
                wait_for(lambda: bluegreen_sessions(pg) == 0, "the killed sessions to end")
                state = commands.status(bg, "orders")[0].record.state
                assert state == {"cutover": "synced", "rollback": "cut_over",
                                 "finish": "cut_over"}[action]
                run_cli(bg, action, "orders", "--yes")
            elif action == "finish":
                commands.finish(bg, ["orders"])
            else:
                getattr(commands, action)(bg, ["orders"])
            time.sleep(0.3)
            app.check(pg, old_shape=old_shape)
        app.stop()
        app.check(pg, old_shape=False)
        assert bluegreen_objects(pg) == []
        assert pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT "
                          "convalidated").fetchone()[0] == 0
        assert pg.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                          "attrelid = 'order_totals'::regclass AND attname = 'total'"
                          ).fetchone()[0] == "numeric"
    finally:
        release()
        for writer in app.writers:
            writer.stop()
        while SPAWNED:  # nothing of this test may run on into the next one
            proc = SPAWNED.pop()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
