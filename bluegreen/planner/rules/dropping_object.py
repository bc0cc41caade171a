"""Dropping a view, materialized view, type, sequence, function, trigger or schema.

Problem: blue may still depend on it.

Safe alternative: a contract step once blue is retired.

Schema:

    CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;

Bad:

    -- in the release whose app stops using the view: blue still queries it
    DROP VIEW big_orders;

Good (contract phase):

    -- once blue is retired: bluegreen apply --phase contract
    DROP VIEW big_orders;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

OPERATIONS = (ops.DropObjectOp,)


def check(ctx) -> Verdict | None:
    kept = [n for n in ctx.op.names if not ctx.schema.is_new_object(n)]
    if not kept:
        return None  # created earlier in this migration: blue never used it
    names = ", ".join(kept)
    return Verdict(
        rule="dropping-object", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"dropping {ctx.op.kind} {names} breaks blue if it still uses it",
        fix="run it in the contract phase, after blue is retired",
    )
