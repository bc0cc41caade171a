"""Does every row fit the new shape? Casts in the copy behave as the ALTER would (assignment
casts that fail on a value that does not fit), so a misfit stops the copy; this module names
the row that did not fit, and checks a new NOT NULL exactly before the copy starts.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from bluegreen.engines.postgresql.catalog import TableRef
from bluegreen.engines.postgresql.chunks import KeySet, next_boundary
from bluegreen.errors import RowDoesNotFit

# What one row alone can fail on: a value the new type cannot hold, a NULL the new shape
# forbids, a CHECK. (Unique, foreign-key and exclusion errors involve other rows.)
MISFITS = (psycopg.errors.DataError, psycopg.errors.NotNullViolation,
           psycopg.errors.CheckViolation)



def describe_key(key: KeySet, values) -> str:
    """``id = 42`` or ``account_id = 0f8c..., n = 3``: as a user would type it."""
    return ", ".join(f"{c} = {v!r}" if isinstance(v, str) else f"{c} = {v}"
                     for c, v in zip(key.columns, values, strict=True))


def _by_keys(live: TableRef, target: sql.Composable, key: KeySet,
             exprs: list[tuple[str, sql.Composable]]) -> sql.Composed:
    """Insert the mapped live rows whose keys are in the arrays given (one per key column)."""
    targets = sql.SQL(", ").join(sql.Identifier(n) for n, _ in exprs)
    values = sql.SQL(", ").join(e for _, e in exprs)
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in key.types)
    return sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} WHERE {} IN "
                   "(SELECT * FROM unnest({}))").format(target, targets, values, live.ident,
                                                        key.row, arrays)


def _arrays(keys: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*keys, strict=True)] if keys else []


def first_misfit(conn: psycopg.Connection, live: TableRef, shadow: TableRef, key: KeySet,
                 exprs: list[tuple[str, sql.Composable]], keys: list[tuple]
                 ) -> tuple[tuple, str] | None:
    """The first of ``keys`` whose live row does not fit the shadow's shape, and the error,
    found by bisection into a scratch copy of the shadow's shape (rolled back)."""
    if not keys:
        return None
    probe = sql.Identifier("bluegreen_probe")
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING "
                             "CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)").format(
            probe, shadow.ident))
        insert = _by_keys(live, probe, key, exprs)

        def fails(subset: list[tuple]) -> str | None:
            try:
                with conn.transaction(force_rollback=True):
                    conn.execute(insert, _arrays(subset))
            except MISFITS as error:
                return str(error).strip().splitlines()[0]
            return None

        if fails(keys) is None:
            return None
        candidates = keys
        while len(candidates) > 1:
            half = candidates[:len(candidates) // 2]
            candidates = half if fails(half) is not None else candidates[len(half):]
        error = fails(candidates)
        return (candidates[0], error) if error else None


def misfit_error(table: str, key: KeySet, found: tuple[tuple, str] | None, detail: str,
                 during: str) -> RowDoesNotFit:
    where = (f"the row with {describe_key(key, found[0])}" if found else "a row")
    error = found[1] if found else detail
    return RowDoesNotFit(
        f"{where} of {table} does not fit the new shape ({error}), found {during}; the copy "
        f"stopped before losing anything. Run `bluegreen abort {table}` and fix --alter (a "
        f"USING clause, a DEFAULT), or change that row in {table} and run `bluegreen copy "
        f"{table}` to resume")


def find_null(conn: psycopg.Connection, live: TableRef, key: KeySet,
              exprs: list[tuple[str, sql.Composable]], columns: list[str],
              take: Callable[[int], None] | None = None, chunk_rows: int = 50_000
              ) -> tuple[str, tuple] | None:
    """The first live row where a column the new shape makes NOT NULL would be NULL:
    (column, key), or None. Exact: one query that an index on the column can answer, or,
    with ``take`` (the copy's rate limit), a walk over the key in throttled chunks."""
    wanted = [(name, expr) for name, expr in exprs if name in columns]
    if not wanted:
        return None
    condition = sql.SQL(" OR ").join(sql.SQL("({}) IS NULL").format(e) for _, e in wanted)
    which = sql.SQL(", ").join(sql.SQL("({}) IS NULL").format(e) for _, e in wanted)

    def first(where: sql.Composable, params: list) -> tuple[str, tuple] | None:
        row = conn.execute(sql.SQL("SELECT {}, {} FROM {} WHERE ({}) AND {} LIMIT 1").format(
            key.cols, which, live.ident, condition, where), params).fetchone()
        if row is None:
            return None
        flags = row[len(key.columns):]
        return next(n for (n, _), f in zip(wanted, flags, strict=True) if f), \
            tuple(row[:len(key.columns)])

    if take is None:
        return first(sql.SQL("true"), [])
    last = conn.execute(sql.SQL("SELECT {} FROM {} ORDER BY {} LIMIT 1").format(
        key.cols, live.ident, sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c))
                                                for c in key.columns))).fetchone()
    if last is None:
        return None
    lo: list | None = None
    while True:
        take(chunk_rows)
        row = conn.execute(next_boundary(live, key, lo is not None),
                           [*(lo or []), *last, chunk_rows - 1]).fetchone()
        hi = list(row) if row else list(last)
        lower = sql.SQL("{} > {} AND ").format(key.row, key.params) if lo else sql.SQL("")
        found = first(sql.SQL("{}{} <= {}").format(lower, key.row, key.params),
                      [*(lo or []), *hi])
        if found or hi == list(last):
            return found
        lo = hi
