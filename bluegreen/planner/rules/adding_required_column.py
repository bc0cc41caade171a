"""Adding a NOT NULL column without a default to a table in use.

Problem: blue does not know the column, so every insert blue makes fails with a not-null
violation; on a table that has rows the ALTER itself fails.

Safe alternative: add the column with a constant default (from PostgreSQL 11 a catalog-only
change; before 11, add it nullable, set the default and backfill in batches), so blue's
inserts get the default; then enforce NOT NULL with a validated CHECK once blue is retired.

Bad:

    ALTER TABLE users ADD COLUMN locale text NOT NULL;

Good:

    ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en';
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict
from bluegreen.planner.schema import column_info

OPERATIONS = (ops.AddColumnOp,)


def check(ctx) -> Verdict | None:
    if ctx.table_is_new:
        return None
    column = column_info(ctx.op.column)
    if column.nullable or column.default is not None or column.generated or column.identity:
        return None
    table = ctx.op.table_name
    name = column.name
    t, c = steps.ident(table), steps.ident(name)
    type_sql = str(column.type) if column.type else "<type>"
    if ctx.pg_version >= 11:
        # A constant default is catalog-only from PostgreSQL 11: existing rows read it and
        # blue's inserts get it, so nothing is ever NULL and nothing needs a backfill.
        plan = [Step("expand", f"add {name} with a constant default (choose :value): "
                               "catalog only, and blue's inserts get the default",
                     f"ALTER TABLE {t} ADD COLUMN {c} {type_sql} DEFAULT :value")]
    else:
        pk = ctx.table.primary_key if ctx.table else []
        plan = [
            Step("expand", f"add {name} nullable: blue's inserts keep working",
                 f"ALTER TABLE {t} ADD COLUMN {c} {type_sql}"),
            Step("expand", "blue's inserts get a default from now on (choose :value)",
                 f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT :value"),
            steps.backfill(table, pk, f"{c} = :value", f"{c} IS NULL",
                           f"fill {name} for existing rows in batches"),
        ]
    plan += steps.not_null_via_check(table, name, ctx.pg_version)
    return Verdict(
        rule="adding-required-column", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"{table}.{name} is NOT NULL without a default: blue's inserts do not set it "
                "and will fail",
        fix="add it with a constant default, then SET NOT NULL through a validated CHECK "
            "after blue is retired",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
