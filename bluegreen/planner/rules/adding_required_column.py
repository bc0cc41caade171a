"""Adding a NOT NULL column without a default to a table in use.

Problem: blue does not know the column, so every insert blue makes fails with a not-null
violation; on a table that has rows the ALTER itself fails.

Safe alternative: add the column nullable (or with a constant default, which from
PostgreSQL 11 changes only the catalog), deploy green writing it, backfill existing rows in
batches, then enforce NOT NULL with a validated CHECK once blue is retired.
"""

from __future__ import annotations

from alembic.operations import ops as aops

from bluegreen.planner import steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict
from bluegreen.planner.schema import column_info

OPERATIONS = (aops.AddColumnOp,)


def check(ctx) -> Verdict | None:
    if ctx.table_is_new:
        return None
    column = column_info(ctx.op.column)
    if column.nullable or column.default is not None or column.generated or column.identity:
        return None
    table = ctx.op.table_name
    name = column.name
    type_sql = str(column.type) if column.type else "<type>"
    pk = ctx.table.primary_key if ctx.table else []
    plan = [
        Step("expand", f"add {name} nullable: blue's inserts keep working",
             f"ALTER TABLE {steps.ident(table)} ADD COLUMN {steps.ident(name)} {type_sql}"),
        Step("migrate", f"deploy green: it writes {name} on every insert"),
        steps.backfill(table, pk, f"{steps.ident(name)} = :value", f"{steps.ident(name)} IS NULL",
                       f"fill {name} for existing rows in batches (choose :value)"),
        *steps.not_null_via_check(table, name, ctx.pg_version),
    ]
    return Verdict(
        rule="adding-required-column", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"{table}.{name} is NOT NULL without a default: blue's inserts do not set it "
                "and will fail",
        fix="add it nullable (or with a constant default), backfill, then SET NOT NULL "
            "through a validated CHECK after blue is retired",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
