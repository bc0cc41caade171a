"""Dropping a column.

Problem: blue may still read or write the column (an ORM lists every mapped column in its
INSERTs and SELECTs), so the drop breaks blue. The drop itself is a catalog change.

Safe alternative: a contract step: first deploy green, which no longer uses the column,
retire blue, then drop it.

Bad:

    -- in the release whose app stops using the column: blue still uses it
    ALTER TABLE users DROP COLUMN name;

Good (contract phase):

    -- once blue is retired: bluegreen apply --phase contract
    ALTER TABLE users DROP COLUMN name;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

OPERATIONS = (ops.DropColumnOp,)


def check(ctx) -> Verdict | None:
    name = ctx.op.column_name.lower()
    if ctx.column_is_new(name):
        return None
    return Verdict(
        rule="dropping-column", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"dropping {ctx.op.table_name}.{name} breaks blue if it still uses it",
        fix="run it in the contract phase, after green stops using the column and blue is "
            "retired",
    )
