"""A statement that works for a long time while an earlier statement of its transaction holds
a lock the app waits on (``held_by`` names it).

Problem: locks are kept until the transaction ends. ``ALTER TABLE t ADD COLUMN`` takes
ACCESS EXCLUSIVE for an instant, but if a backfill, a VALIDATE CONSTRAINT or an index build
follows in the same transaction, every query on ``t`` waits for all of it. The later
statement may be safe on its own (VALIDATE takes only SHARE UPDATE EXCLUSIVE): it blocks
because of the earlier one, so ``blocking_alone`` stays false and ``held_by`` names the
earlier statement. Alembic runs a revision in one transaction; so do Rails, Django, diesel,
goose, Flyway and golang-migrate (a multi-statement file is one implicit transaction).

Safe alternative: commit between them (split the migration, or in Alembic run the later
part in ``with op.get_context().autocommit_block():``); ``bluegreen apply`` runs each step in
its own transaction.

Bad:

    BEGIN;
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    COMMIT;

Good:

    BEGIN;
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    COMMIT;
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.locks import BLOCKS_READS, BY_KIND, kind_of
from bluegreen.planner.model import Severity, Verdict

# Judged with everything the other rules said about the operation (ctx.op_blocking).
LATE = True
DIALECTS = ("postgresql",)
OPERATIONS = (object,)
# Work whose time grows with a table even when it blocks nobody by itself.
_LONG_ALONE = {"validate_check", "validate_foreign_key", "refresh_materialized_view_concurrently",
               "attach_partition"}


def _long(ctx) -> bool:
    if ctx.op_blocking:
        return True
    if ctx.table_is_new:
        return False
    op = ctx.op
    if isinstance(op, ops.DataChangeOp):
        return op.kind == "insert" and op.has_where  # INSERT ... SELECT reads a whole table
    return kind_of(op) in _LONG_ALONE


def check(ctx) -> Verdict | None:
    if isinstance(ctx.op, (ops.TransactionOp, ops.SessionSettingOp)) or not _long(ctx):
        return None
    own = BY_KIND.get(kind_of(ctx.op) or "")
    own_lock = own.table_lock if own else None
    current = (ctx.table_name or "").lower()
    held = []
    for lock in ctx.transaction.held.values():
        same_statement = (lock.statement_id == id(ctx.statement)
                          and ctx.statement.operation != "do")
        if same_statement:
            continue
        if ctx.op_blocking and lock.table.lower() == current and lock.mode == own_lock:
            continue  # blocks that table by itself already, and no more than the held lock
        held.append(lock)
    if not held:
        return None
    first = held[0]
    what = "reads and writes" if any(h.mode in BLOCKS_READS for h in held) else "writes"
    tables = ", ".join(sorted({h.table for h in held}))
    alone = ("it blocks by itself too" if ctx.op_blocking
             else "on its own it would not block")
    return Verdict(
        rule="lock-held-in-transaction", severity=Severity.ERROR, blocking=True,
        transaction=True,
        message=f"{first.mode} on {first.table} taken at {first.source} is held until the "
                f"transaction ends, so {what} on {tables} wait while this statement runs "
                f"({alone})",
        fix="commit after the statement that takes the lock and run this one in a new "
            "transaction (Alembic: `with op.get_context().autocommit_block():`; SQL: split "
            "the file or COMMIT between them)",
        held_by=tuple({"source": h.source, "table": h.table, "lock": h.mode} for h in held),
    )
