"""ALTER SCHEMA RENAME, or SET SCHEMA of a table, view, type or function.

Problem: blue names these objects (``schema.table``, or through its search_path); after the
move every query blue sends that names the old place fails.

Safe alternative: move it and leave the old name behind for blue: for a table, in one
transaction ``ALTER TABLE t SET SCHEMA s`` and ``CREATE VIEW old.t AS SELECT * FROM s.t``
(a simple view is updatable); drop the view once blue is retired. For a schema, create the
new schema and move objects one at a time the same way.

Schema:

    CREATE SCHEMA sales;

Bad:

    ALTER TABLE orders SET SCHEMA sales;

Good:

    -- green uses sales.orders, an updatable view; move the table once blue is retired
    CREATE VIEW sales.orders AS SELECT * FROM public.orders;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.MoveObjectOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.how != "set schema" and op.kind != "schema":
        return None  # renames of types, functions...: renaming-object
    if ctx.schema.is_new_object(op.name):
        return None
    plan: tuple[Step, ...] = ()
    if op.kind in ("table", "view") and op.how == "set schema":
        old, new = steps.ident(op.name), steps.ident(op.new_name)
        swap = (f"BEGIN;\n{ctx.sql.rstrip(';')};\n"
                f"CREATE VIEW {old} AS SELECT * FROM {new};\nCOMMIT")
        plan = (Step("expand", "move it, and keep the old name as an updatable view", swap),
                Step("contract", "drop the compatibility view", f"DROP VIEW {old}"))
    verb = "renaming schema" if op.kind == "schema" else f"moving {op.kind}"
    return Verdict(
        rule="renaming-schema", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT if plan else Strategy.MANUAL,
        message=f"{verb} {op.name} to {op.new_name} breaks every query of blue that names it",
        fix="leave the old name behind for blue (a view for a table) and remove it once blue "
            "is retired",
        fix_sql=plan[0].sql if plan else None, steps=plan,
    )
