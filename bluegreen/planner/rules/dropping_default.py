"""Dropping a column default.

Problem: blue's inserts that leave the column out now store NULL, or fail when the column
is NOT NULL.

Safe alternative: a contract step once blue is retired.

Bad:

    -- in the release whose app sets the status itself: blue's inserts still leave it out
    ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;

Good (contract phase):

    -- once blue is retired: bluegreen apply --phase contract
    ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AlterColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.modify_server_default is not None or op.modify_name or ctx.column_is_new(
            op.column_name.lower()):
        return None
    return Verdict(
        rule="dropping-default", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"dropping the default of {op.table_name}.{op.column_name} changes what "
                "blue's inserts store",
        fix="run it in the contract phase, after blue is retired",
    )
