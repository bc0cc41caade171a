"""A char(n) column.

Problem: char(n) pads values with spaces, compares surprisingly and is never faster than
text; changing it later rewrites the table.

Safe alternative: use text (with a CHECK on length if needed) or varchar.

Bad:

    ALTER TABLE users ADD COLUMN country char(2);

Good:

    ALTER TABLE users ADD COLUMN country varchar(2);
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
    found = columns_of_type(op, {"bpchar"})
    if not found:
        return None
    return Verdict(
        rule="ban-char-field", severity=Severity.INFO,
        message=f"{op.table_name}.{', '.join(found)} is char(n)",
        fix="use text or varchar",
    )
