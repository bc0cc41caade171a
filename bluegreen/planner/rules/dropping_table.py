"""Dropping a table.

Problem: blue may still use the table; its data is gone for good.

Safe alternative: a contract step once blue is retired; consider renaming it aside first so
the way back is a rename.

Schema:

    CREATE TABLE carts (id bigint PRIMARY KEY, user_id bigint NOT NULL);

Bad:

    -- in the release whose app stops using carts: blue still uses it
    DROP TABLE carts;

Good (contract phase):

    -- once blue is retired: bluegreen apply --phase contract
    DROP TABLE carts;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

OPERATIONS = (ops.DropTableOp,)


def check(ctx) -> Verdict | None:
    if ctx.table_is_new:
        return None
    return Verdict(
        rule="dropping-table", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"dropping {ctx.op.table_name} breaks blue if it still uses it, and loses "
                "its data",
        fix="run it in the contract phase, after blue is retired",
    )
