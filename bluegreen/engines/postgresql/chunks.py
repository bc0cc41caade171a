"""Pure SQL builders for the backfill (keyset chunks) and the replay (re-sync keys)."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from bluegreen.engines.postgresql.catalog import TableRef


@dataclass(frozen=True)
class KeySet:
    """A primary key: its columns and their types, for row comparisons with typed params."""

    columns: list[str]
    types: list[str]

    @property
    def cols(self) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)

    @property
    def row(self) -> sql.Composable:
        return sql.SQL("({})").format(self.cols)

    @property
    def params(self) -> sql.Composable:
        return sql.SQL("({})").format(sql.SQL(", ").join(
            sql.SQL("%s::{}").format(sql.SQL(t)) for t in self.types))


def max_key(live: TableRef, key: KeySet) -> sql.Composed:
    order = sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c))
                               for c in key.columns)
    return sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT 1").format(key.cols, live.ident, order)


def next_boundary(live: TableRef, key: KeySet, has_lo: bool) -> sql.Composed:
    """The key ``chunk_size`` rows after lo, at most the backfill's last key:
    params (lo..., last..., chunk_size - 1). No row means the range ends at the last key."""
    where = [sql.SQL("{} > {}").format(key.row, key.params)] if has_lo else []
    where.append(sql.SQL("{} <= {}").format(key.row, key.params))
    return sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT 1 OFFSET %s").format(
        key.cols, live.ident, sql.SQL(" AND ").join(where), key.cols)


def _insert(shadow: TableRef, exprs: list[tuple[str, sql.Composable]]) -> sql.Composed:
    targets = sql.SQL(", ").join(sql.Identifier(name) for name, _ in exprs)
    return sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE").format(shadow.ident, targets)


def _select_list(exprs: list[tuple[str, sql.Composable]]) -> sql.Composable:
    return sql.SQL(", ").join(expr for _, expr in exprs)


def copy_chunk(live: TableRef, shadow: TableRef, key: KeySet,
               exprs: list[tuple[str, sql.Composable]], has_lo: bool) -> sql.Composed:
    """Copy one key range server-side: params (lo..., hi...) or (hi...)."""
    lower = sql.SQL("{} > {} AND ").format(key.row, key.params) if has_lo else sql.SQL("")
    return sql.SQL("{} SELECT {} FROM {} WHERE {}{} <= {}").format(
        _insert(shadow, exprs), _select_list(exprs), live.ident, lower, key.row, key.params)


def keys_table(queue: TableRef) -> sql.Identifier:
    return sql.Identifier(f"bg_keys_{queue.name}"[:63])


def create_keys_table(queue: TableRef, key: KeySet) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                                 for c, t in zip(key.columns, key.types, strict=True))
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
        keys_table(queue), columns)


def take_batch(queue: TableRef, key: KeySet, condition: sql.Composable) -> sql.Composed:
    """Move a batch of queued keys into the session's keys table: params (...cond, limit)."""
    return sql.SQL(
        "WITH taken AS (DELETE FROM {queue} WHERE bg_seq IN (SELECT bg_seq FROM {queue} "
        "WHERE {cond} ORDER BY bg_seq LIMIT %s) RETURNING {cols}) "
        "INSERT INTO {keys} SELECT DISTINCT {cols} FROM taken").format(
        queue=queue.ident, cond=condition, cols=key.cols, keys=keys_table(queue))


def delete_keys(shadow: TableRef, queue: TableRef, key: KeySet) -> sql.Composed:
    return sql.SQL("DELETE FROM {} WHERE {} IN (SELECT {} FROM {})").format(
        shadow.ident, key.row, key.cols, keys_table(queue))


def insert_keys(live: TableRef, shadow: TableRef, queue: TableRef, key: KeySet,
                exprs: list[tuple[str, sql.Composable]]) -> sql.Composed:
    return sql.SQL("{} SELECT {} FROM {} WHERE {} IN (SELECT {} FROM {})").format(
        _insert(shadow, exprs), _select_list(exprs), live.ident, key.row, key.cols,
        keys_table(queue))


def backlog(queue: TableRef) -> sql.Composed:
    return sql.SQL("SELECT count(*) FROM {}").format(queue.ident)
