"""REINDEX without CONCURRENTLY.

Problem: REINDEX blocks writes to the table (and reads that use the index) for the whole
rebuild.

Safe alternative: REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction; before 12,
CREATE INDEX CONCURRENTLY a copy and drop the old one.

Bad:

    REINDEX INDEX orders_user_id_idx;

Good:

    REINDEX INDEX CONCURRENTLY orders_user_id_idx;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Step, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.ReindexOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.concurrently:
        return None
    if ctx.pg_version >= 12:
        sql = f"REINDEX {op.kind.upper()} CONCURRENTLY {op.target}"
        fix = "use REINDEX CONCURRENTLY outside a transaction"
    else:
        sql = None
        fix = "CREATE INDEX CONCURRENTLY a copy of the index, then drop the old one"
    return Verdict(
        rule="reindexing", severity=Severity.ERROR, blocking=True,
        message=f"REINDEX {op.kind.upper()} {op.target} blocks writes for the whole rebuild",
        fix=fix, fix_sql=sql,
        steps=(Step("expand", "rebuild without blocking", sql),) if sql else (),
    )
