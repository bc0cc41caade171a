"""Verify: chunked checksums of the live and shadow tables, at one snapshot.

At any snapshot every key is either still in the capture queue or equal in both tables
(the queue and the shadow change in the same transaction), so comparing the two tables
without the queued keys, in one REPEATABLE READ transaction, is exact while writes go on.
"""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from bluegreen.engines.postgresql import chunks
from bluegreen.engines.postgresql.copy import MigrationTables, replay_batch
from bluegreen.results import VerifyResult


def _range(key: chunks.KeySet, lo: bool, hi: bool) -> sql.Composable:
    parts = [sql.SQL("true")]
    if lo:
        parts.append(sql.SQL("{} > {}").format(key.row, key.params))
    if hi:
        parts.append(sql.SQL("{} <= {}").format(key.row, key.params))
    return sql.SQL(" AND ").join(parts)


def _checksum(table, key: chunks.KeySet, values: sql.Composable, queue, queue_key,
              lo: bool, hi: bool) -> sql.Composed:
    # An order-free sum of 64-bit row hashes: the same detection as an ordered md5 of the
    # rows for any real difference, without sorting the range (about 5x faster).
    return sql.SQL(
        "SELECT count(*), sum(hashtextextended(ROW({values})::text, 0)::numeric) "
        "FROM {table} WHERE {range} AND {row} NOT IN (SELECT {qcols} FROM {queue})").format(
        values=values, table=table, range=_range(key, lo, hi), row=key.row,
        qcols=queue_key.cols, queue=queue)


def verify(conn: psycopg.Connection, m: MigrationTables, chunk_rows: int = 50_000,
           repair: bool = False) -> VerifyResult:
    live_values = sql.SQL(", ").join(expr for _, expr in m.comparable)
    shadow_values = sql.SQL(", ").join(sql.Identifier(name) for name, _ in m.exprs)
    result = VerifyResult(m.live.ref.key, 0, 0, 0)
    boundary = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT 1 OFFSET %s")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        lo: list | None = None
        while True:
            row = conn.execute(boundary.format(m.key.cols, m.live.ref.ident,
                                               _range(m.key, lo is not None, False),
                                               m.key.cols), [*(lo or []), chunk_rows - 1]
                               ).fetchone()
            hi = json.loads(json.dumps(list(row), default=str)) if row else None
            bounds = [*(lo or []), *(hi or [])]
            live_sum = conn.execute(_checksum(m.live.ref.ident, m.key, live_values,
                                              m.queue.ident, m.key, lo is not None,
                                              hi is not None), bounds).fetchone()
            shadow_sum = conn.execute(_checksum(m.shadow.ident, m.shadow_key, shadow_values,
                                                m.queue.ident, m.key, lo is not None,
                                                hi is not None), bounds).fetchone()
            result.ranges += 1
            result.rows_live += live_sum[0]
            result.rows_shadow += shadow_sum[0]
            if tuple(live_sum) != tuple(shadow_sum):
                result.differing.append((lo, hi))
            if hi is None:
                break
            lo = hi
    if repair and result.differing:
        for lo, hi in result.differing:
            bounds = [*(lo or []), *(hi or [])]
            enqueue = sql.SQL("INSERT INTO {queue} ({qcols}) SELECT {cols} FROM {live} WHERE "
                              "{range} UNION SELECT {scols} FROM {shadow} WHERE {srange}").format(
                queue=m.queue.ident, qcols=m.key.cols, cols=m.key.cols, live=m.live.ref.ident,
                range=_range(m.key, lo is not None, hi is not None), scols=m.shadow_key.cols,
                shadow=m.shadow.ident,
                srange=_range(m.shadow_key, lo is not None, hi is not None))
            result.repaired_keys += conn.execute(enqueue, bounds + bounds).rowcount
        conn.execute(chunks.create_keys_table(m.queue, m.key))
        while replay_batch(conn, m, sql.SQL("true"), [], 5000):
            pass
    return result
