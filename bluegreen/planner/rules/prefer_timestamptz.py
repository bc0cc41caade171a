"""A timestamp column without time zone.

Problem: timestamp without time zone stores wall-clock values whose meaning depends on the
writer's zone; changing it to timestamptz later rewrites the table and changes what the app
reads.

Safe alternative: use timestamptz.

Bad:

    ALTER TABLE orders ADD COLUMN shipped_at timestamp;

Good:

    ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
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
    naive = columns_of_type(op, {"timestamp"})
    if not naive:
        return None
    return Verdict(
        rule="prefer-timestamptz", severity=Severity.INFO,
        message=f"{op.table_name}.{', '.join(naive)} is timestamp without time zone",
        fix="use timestamptz (timestamp with time zone)",
    )
