"""Renaming a type, domain, function, procedure or materialized view blue names.

Problem: blue names it in its SQL (a cast to an enum type, a function call, a query on
the materialized view): after the rename those statements fail.

Safe alternative: create the object under the new name beside the old one (a new function
calling the old, a view over the materialized view), move green to it, and drop the old
name once blue is retired.

Schema:

    CREATE FUNCTION order_total(bigint) RETURNS numeric
        LANGUAGE sql AS $$ SELECT total FROM orders WHERE id = $1 $$;

Bad:

    ALTER FUNCTION order_total(bigint) RENAME TO order_amount;

Good:

    -- the new name beside the old one; drop order_total once blue is retired
    CREATE FUNCTION order_amount(bigint) RETURNS numeric
        LANGUAGE sql AS $$ SELECT order_total($1) $$;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.MoveObjectOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.how != "rename" or op.kind == "schema":
        return None
    if ctx.schema.is_new_object(op.name):
        return None
    return Verdict(
        rule="renaming-object", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.MANUAL,
        message=f"renaming {op.kind} {op.name} to {op.new_name} breaks blue's statements that "
                f"name {op.name}",
        fix="keep the old name working until blue is retired (create the new object beside "
            "it), then drop the old one",
    )
