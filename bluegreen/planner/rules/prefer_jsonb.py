"""A json column.

Problem: json has no equality operator, so SELECT DISTINCT, UNION and GROUP BY over the row
fail, and every read re-parses the text; changing it to jsonb later rewrites the table.

Safe alternative: use jsonb.

Bad:

    ALTER TABLE orders ADD COLUMN details json;

Good:

    ALTER TABLE orders ADD COLUMN details jsonb;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.rules._columns import columns_of_type

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateTableOp, ops.AddColumnOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    found = columns_of_type(op, {"json"})
    if not found:
        return None
    return Verdict(
        rule="prefer-jsonb", severity=Severity.INFO,
        message=f"{op.table_name}.{', '.join(found)} is json",
        fix="use jsonb",
    )
