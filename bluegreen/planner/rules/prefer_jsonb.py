"""A json column.

Problem: json has no equality operator, so SELECT DISTINCT, UNION and GROUP BY over the row
fail, and every read re-parses the text; changing it to jsonb later rewrites the table.

Safe alternative: use jsonb.
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
    found = [c.name for c in columns
             if (info := column_info(c)).type is not None and info.type.name == "json"]
    if not found:
        return None
    return Verdict(
        rule="prefer-jsonb", severity=Severity.INFO,
        message=f"{op.table_name}.{', '.join(found)} is json",
        fix="use jsonb",
    )
