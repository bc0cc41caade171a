"""--max-replication-lag against a real streaming replica (issue 10, item 19): its replay is
paused, the copy backs off while the replica falls behind, and goes on once it catches up."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from bluegreen import commands
from bluegreen.core.copy import CopyOptions
from bluegreen.core.pace import ThrottleSettings
from tests.support.items import seed_items
from tests.support.replica import ReplicaUnavailable, streaming_pair


def test_the_copy_backs_off_while_a_real_replica_lags():
    try:
        pair_context = streaming_pair()
        pair = pair_context.__enter__()
    except ReplicaUnavailable as error:
        pytest.fail(f"cannot start a streaming replica for this test: {error}", pytrace=False)
    try:
        with psycopg.connect(pair.primary_url, autocommit=True) as primary, \
                psycopg.connect(pair.replica_conninfo, autocommit=True) as replica:
            seed_items(primary, 60_000)
            commands.init(pair.primary_url)
            replica.execute("SELECT pg_wal_replay_pause()")
            progress = []
            results: list = []
            copier = threading.Thread(target=lambda: results.append(commands.copy(
                pair.primary_url, "items", "ALTER TABLE items ALTER COLUMN a TYPE bigint",
                CopyOptions(chunk_size=2000, throttle=ThrottleSettings(
                    max_rows_per_second=30_000, max_replication_lag=1.0,
                    check_interval=0.2)), on_progress=progress.append)))
            copier.start()

            def copied() -> int:
                row = primary.execute("SELECT rows_copied FROM bluegreen.migrations"
                                      ).fetchone()
                return row[0] if row else 0

            # Held back once the replica is over a second behind; standing still for a while.
            deadline = time.monotonic() + 30
            while not any(p.throttled and "replication lag" in p.throttled for p in progress):
                assert time.monotonic() < deadline, "the copy never backed off"
                time.sleep(0.1)
            held = copied()
            time.sleep(2.0)
            assert copied() == held < 60_000
            assert replica.execute("SELECT pg_is_wal_replay_paused()").fetchone()[0]
            replica.execute("SELECT pg_wal_replay_resume()")
            copier.join(timeout=120)
            assert results and results[0].record.state == "synced"
            assert results[0].record.rows_copied == 60_000
            assert copied() > held
    finally:
        pair_context.__exit__(None, None, None)
