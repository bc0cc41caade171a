"""SET NOT NULL on a column of a table in use, including a column added earlier in the
migration (it scans; without a default blue's inserts fail).

Problem: blue may still insert NULL, so it is a contract change; and PostgreSQL scans the
whole table under ACCESS EXCLUSIVE to check it, unless (from PostgreSQL 12) a validated
CHECK (col IS NOT NULL) already proves it.

On a column added earlier in the same migration to a table in use, the scan still runs
(the table has rows), and blue, which does not know the column, can only insert if the column
has a default: without one, blue's inserts fail (breaking).

Safe alternative: add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it (reads and writes go on),
then SET NOT NULL, which uses the check, and drop the check. For a new column, add it with a
constant default instead.

Bad:

    ALTER TABLE users ALTER COLUMN name SET NOT NULL;

Good (contract phase):

    ALTER TABLE users ADD CONSTRAINT users_name_not_null CHECK (name IS NOT NULL) NOT VALID;
    ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null;
    ALTER TABLE users ALTER COLUMN name SET NOT NULL;
    ALTER TABLE users DROP CONSTRAINT users_name_not_null;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AlterColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.modify_nullable is not False:
        return None
    name = op.column_name.lower()
    if ctx.table_is_new:
        return None
    if ctx.column_is_new(name):
        return _new_column(ctx, name)
    proven = (ctx.pg_version >= 12 and ctx.table is not None
              and ctx.table.has_valid_not_null_check(name))
    if proven:
        return Verdict(
            rule="setting-not-null", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"{op.table_name}.{name} NOT NULL rejects blue's NULL inserts; a "
                    "validated CHECK spares the scan",
            fix="run it in the contract phase, after blue is retired",
        )
    plan = steps.not_null_via_check(op.table_name, name, ctx.pg_version)
    return Verdict(
        rule="setting-not-null", severity=Severity.ERROR, phase=Phase.CONTRACT, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"SET NOT NULL on {op.table_name}.{name} scans the whole table under ACCESS "
                "EXCLUSIVE" + ("" if ctx.pg_version >= 12 else
                               f" (PostgreSQL {ctx.pg_version} cannot use a CHECK for it)"),
        fix="add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL"
            if ctx.pg_version >= 12 else
            "enforce it with a validated CHECK (col IS NOT NULL) constraint instead",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )


def _new_column(ctx, name: str) -> Verdict:
    """SET NOT NULL on a column this migration added to a table in use."""
    op = ctx.op
    column = ctx.column(name)
    has_default = bool(column and column.default is not None)
    plan = steps.not_null_via_check(op.table_name, name, ctx.pg_version, phase="expand")
    if has_default:
        message = (f"SET NOT NULL on the new column {op.table_name}.{name} scans the whole "
                   "table under ACCESS EXCLUSIVE")
    else:
        message = (f"{op.table_name}.{name} is new and has no default: blue does not set it, "
                   "so its inserts fail once it is NOT NULL; and the check scans the table "
                   "under ACCESS EXCLUSIVE")
    return Verdict(
        rule="setting-not-null", severity=Severity.ERROR,
        phase=Phase.EXPAND if has_default else Phase.BREAKING, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=message,
        fix="add the column with a constant default and NOT NULL in one statement (catalog "
            "only from PostgreSQL 11), or enforce it with a validated CHECK",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
