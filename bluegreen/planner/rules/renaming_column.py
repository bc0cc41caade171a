"""Renaming a column of a table in use.

Problem: the rename is instant, but blue still reads and writes the old name, and fails
from that moment on. No ordering of deploys makes it safe.

Safe alternative: add the new column, keep both in step with a trigger, backfill in
batches, deploy green on the new name, then drop the trigger and the old column once blue
is retired.

Bad:

    ALTER TABLE users RENAME COLUMN name TO full_name;

Good:

    ALTER TABLE users ADD COLUMN full_name text;
    -- a trigger keeps name and full_name in step; old rows in batches, until none is left
    UPDATE users SET full_name = name WHERE id BETWEEN 1 AND 1000;
    -- green uses full_name; once blue is retired, drop name (a contract step)
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict

OPERATIONS = (ops.AlterColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if not op.modify_name:
        return None
    old = op.column_name.lower()
    new = op.modify_name.lower()
    if ctx.column_is_new(old):
        table = ctx.table
        if ctx.table_is_new or table is None or new not in table.dropped_in_migration:
            return None
        return Verdict(
            rule="renaming-column", severity=Severity.ERROR, phase=Phase.BREAKING,
            strategy=Strategy.EXPAND_CONTRACT,
            message=f"{op.table_name}.{new} was dropped earlier in this migration and the new "
                    f"column {old} takes its name: blue reads and writes a different column "
                    "under the old name",
            fix=f"keep {new} until blue is retired: add {old}, sync the two with a trigger, "
                "move green to it, then drop the old one",
        )
    if not ctx.target.traits.plpgsql:
        return Verdict(
            rule="renaming-column", severity=Severity.ERROR, phase=Phase.BREAKING,
            strategy=Strategy.EXPAND_CONTRACT,
            message="this rename breaks blue, which still uses the old name",
            fix="add the new column, have the app (or SQLite triggers) write both, "
                "backfill, and drop the old column after blue is retired",
        )
    column = ctx.column(old)
    type_sql = str(column.type) if column and column.type else None
    plan = steps.dual_write_column(
        ctx.table, op.table_name, old, new, type_sql, f"NEW.{steps.ident(old)}",
        f"NEW.{steps.ident(new)}", list(ctx.schema.indexes.values()), ctx.pg_version,
        not_null=bool(column and not column.nullable),
        default=column.default if column else None, what=f"reads and writes {new}")
    missing = "" if type_sql else " (the column's type is unknown: pass --schema)"
    return Verdict(
        rule="renaming-column", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"renaming {op.table_name}.{old} to {new} breaks blue, which still uses "
                f"{old}{missing}",
        fix=f"add {new}, sync it with {old} by trigger, backfill, deploy green, then drop "
            f"{old} after blue is retired",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
