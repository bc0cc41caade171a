"""Adding a stored generated, identity or serial column to a table in use.

Problem: PostgreSQL computes the value for every existing row, rewriting the table under
ACCESS EXCLUSIVE; reads and writes wait for the whole rewrite.

Safe alternative: build the new shape beside the live table with the shadow-table copier
(``bluegreen copy``) and switch with a rename, or add a plain column filled by a trigger and
a batched backfill.

Bad:

    ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;

Good:

    ALTER TABLE orders ADD COLUMN total_cents bigint;
    -- new rows: fill it from the app or a trigger; old rows: in batches, until none is left
    UPDATE orders SET total_cents = total * 100 WHERE id BETWEEN 1 AND 1000;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Severity, Strategy, Verdict
from bluegreen.planner.schema import column_info

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AddColumnOp,)


def check(ctx) -> Verdict | None:
    if ctx.table_is_new:
        return None
    column = column_info(ctx.op.column)
    serial = column.type is not None and column.type.serial
    if not (column.generated or column.identity or serial):
        return None
    kind = "stored generated" if column.generated else "identity" if column.identity else "serial"
    return Verdict(
        rule="adding-generated-column", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.SHADOW,
        message=f"adding the {kind} column {ctx.op.table_name}.{column.name} computes it for "
                "every row, rewriting the table under ACCESS EXCLUSIVE",
        fix="rebuild the table with bluegreen copy and switch with a rename",
        steps=tuple(steps.shadow_copy(ctx.op.table_name, ctx.statement.sql)),
    )
