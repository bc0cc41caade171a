"""Dropping an index of a table in use.

Problem: DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table: brief, but it
queues behind every running query and everything queues behind it. Blue's queries may rely
on the index for their speed, and on a unique index for correctness.

Safe alternative: DROP INDEX CONCURRENTLY, in the contract phase.

Bad:

    DROP INDEX orders_user_id_idx;

Good (contract phase):

    DROP INDEX CONCURRENTLY orders_user_id_idx;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Verdict
from bluegreen.planner.schema import normalize_name

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.DropIndexOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    index = ctx.schema.indexes.get(normalize_name(op.index_name))
    if index is not None and ctx.schema.is_new(index.table):
        return None
    if op.kw.get("postgresql_concurrently"):
        return Verdict(
            rule="dropping-index", severity=Severity.INFO, phase=Phase.CONTRACT,
            message=f"blue's queries may rely on {op.index_name}",
            fix="run it in the contract phase, after blue is retired",
        )
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {steps.ident(op.index_name)}"
    return Verdict(
        rule="dropping-index", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"DROP INDEX {op.index_name} takes ACCESS EXCLUSIVE on its table, and blue's "
                "queries may rely on it",
        fix="use DROP INDEX CONCURRENTLY outside a transaction, in the contract phase",
        fix_sql=sql, steps=(Step("contract", "drop it without blocking", sql),),
    )
