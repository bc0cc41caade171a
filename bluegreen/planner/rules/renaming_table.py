"""Renaming a table (or view) in use.

Problem: blue still queries the old name and fails from the moment of the rename.

Safe alternative: rename the table and, in the same transaction, create a view under the
old name. A simple view is updatable, so blue keeps reading and writing through it; drop the
view once blue is retired.

Bad:

    ALTER TABLE orders RENAME TO purchases;

Good:

    -- green uses purchases, an updatable view; rename the table once blue is retired
    CREATE VIEW purchases AS SELECT * FROM orders;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

OPERATIONS = (ops.RenameTableOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    if not ctx.target.traits.updatable_views:
        return Verdict(
            rule="renaming-table", severity=Severity.ERROR, phase=Phase.BREAKING,
            strategy=Strategy.EXPAND_CONTRACT,
            message="this rename breaks blue, which still uses the old name",
            fix="create the new table, copy and keep it in sync (bluegreen copy "
                "rebuilds under the same name), and drop the old one after blue is retired",
        )
    old, new = steps.ident(op.table_name), steps.ident(op.new_table_name)
    swap = (f"BEGIN;\nALTER TABLE {old} RENAME TO {new};\n"
            f"CREATE VIEW {old} AS SELECT * FROM {new};\nCOMMIT")
    plan = (
        Step("expand", "rename, and keep the old name as an updatable view for blue", swap),
        Step("migrate", f"deploy green: it uses {op.new_table_name}"),
        Step("contract", "drop the compatibility view", f"DROP VIEW {old}"),
    )
    return Verdict(
        rule="renaming-table", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"renaming {op.table_name} to {op.new_table_name} breaks blue, which still "
                f"uses {op.table_name}",
        fix="rename and create a view with the old name in one transaction; drop the view "
            "after blue is retired",
        fix_sql=swap, steps=plan,
    )
