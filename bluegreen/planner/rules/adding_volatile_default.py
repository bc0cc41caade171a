"""Adding a column whose default must be computed per row.

Problem: a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(),
any user function) makes PostgreSQL rewrite the whole table under ACCESS EXCLUSIVE, as does
any default before PostgreSQL 11. Reads and writes wait for the whole rewrite.

Safe alternative: add the column without a default, set the default (new rows get it), and
backfill existing rows in batches.

Bad:

    ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();

Good:

    ALTER TABLE orders ADD COLUMN token uuid;
    ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();
    -- old rows in batches, until none is left
    UPDATE orders SET token = gen_random_uuid() WHERE id BETWEEN 1 AND 1000 AND token IS NULL;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.expressions import volatile_functions
from bluegreen.planner.model import Severity, Step, Strategy, Verdict
from bluegreen.planner.schema import column_info

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AddColumnOp,)


def check(ctx) -> Verdict | None:
    if ctx.table_is_new:
        return None
    column = column_info(ctx.op.column)
    if column.default is None or column.generated or column.identity:
        return None
    if column.type is not None and column.type.serial:
        return None  # adding-generated-column covers serial
    volatile = volatile_functions(column.default)
    if not volatile and ctx.pg_version >= 11:
        return None
    reason = (f"its default calls {', '.join(volatile)}, evaluated per row" if volatile
              else f"before PostgreSQL 11 every default is written into each row "
                   f"(target is {ctx.pg_version})")
    table, name = ctx.op.table_name, column.name
    t, c = steps.ident(table), steps.ident(name)
    type_sql = str(column.type) if column.type else "<type>"
    plan = [
        Step("expand", f"add {name} without a default (catalog only)",
             f"ALTER TABLE {t} ADD COLUMN {c} {type_sql}"),
        Step("expand", "new rows get the default from now on",
             f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {column.default}"),
        steps.backfill(table, ctx.table.primary_key if ctx.table else [],
                       f"{c} = {column.default}", f"{c} IS NULL",
                       f"fill {name} for existing rows, {steps.BATCH_ROWS} at a time"),
    ]
    if not column.nullable:
        plan += steps.not_null_via_check(table, name, ctx.pg_version)
    return Verdict(
        rule="adding-volatile-default", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"adding {table}.{name} rewrites the table under ACCESS EXCLUSIVE: {reason}",
        fix="add the column without a default, SET DEFAULT, then backfill in batches",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
