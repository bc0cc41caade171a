"""A statement that takes ACCESS EXCLUSIVE on a table in use, with no lock_timeout set.

Problem: even a catalog-only ALTER waits for every running query on the table, and every
query that arrives meanwhile queues behind it: a long SELECT turns an instant DDL into an
outage. Reported once per file (SQL file or Alembic revision). In an Alembic project a
``lock_timeout`` set in the revision (``op.execute("SET lock_timeout ...")``) or mentioned in
the project's ``env.py`` counts as set.

Safe alternative: SET lock_timeout (e.g. '2s') before the DDL and retry on timeout;
bluegreen runs its own steps that way.

Bad:

    ALTER TABLE users ADD COLUMN nickname text;

Good:

    SET lock_timeout = '2s';
    ALTER TABLE users ADD COLUMN nickname text;
"""

from __future__ import annotations

from bluegreen.planner.locks import ACCESS_EXCLUSIVE, lock_for
from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.ops import SessionSettingOp, Statement

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (object,)


def _has_lock_timeout(statements: list[Statement]) -> bool:
    return any(isinstance(op, SessionSettingOp) and op.name.lower() == "lock_timeout"
               for s in statements for op in s.ops)


def check(ctx) -> Verdict | None:
    if ctx.statement.lock_timeout_set:
        return None  # set where the plan cannot see a SET statement (Alembic's env.py)
    if ctx.table_is_new or lock_for(ctx.op) != ACCESS_EXCLUSIVE:
        return None
    earlier = ctx.earlier_in_file
    if _has_lock_timeout(earlier + [ctx.statement]):
        return None
    if any(lock_for(op) == ACCESS_EXCLUSIVE and not ctx.schema.is_new(
            getattr(op, "table_name", None)) for s in earlier for op in s.ops):
        return None  # reported on the first such statement of the file
    return Verdict(
        rule="missing-lock-timeout", severity=Severity.WARNING,
        message="ACCESS EXCLUSIVE without a lock_timeout: if the lock waits, every query on "
                "the table queues behind it",
        fix="SET lock_timeout = '2s' first, and retry the migration when it times out",
        fix_sql="SET lock_timeout = '2s'",
    )
