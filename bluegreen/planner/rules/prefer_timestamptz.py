"""A timestamp column without time zone.

Problem: timestamp without time zone stores wall-clock values whose meaning depends on the
writer's zone; changing it to timestamptz later rewrites the table and changes what the app
reads.

Safe alternative: use timestamptz.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops as aops

from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.schema import column_info

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (aops.CreateTableOp, aops.AddColumnOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    columns = [op.column] if isinstance(op, aops.AddColumnOp) else [
        c for c in op.columns if isinstance(c, sa.Column)]
    naive = [c.name for c in columns
             if (info := column_info(c)).type is not None and info.type.name == "timestamp"]
    if not naive:
        return None
    return Verdict(
        rule="prefer-timestamptz", severity=Severity.INFO,
        message=f"{op.table_name}.{', '.join(naive)} is timestamp without time zone",
        fix="use timestamptz (timestamp with time zone)",
    )
