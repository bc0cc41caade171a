"""Adding a CHECK constraint to a table in use.

Problem: new writes are checked at once, so blue's writes that break it fail: a contract
change, with or without NOT VALID. Without NOT VALID, PostgreSQL also scans the whole table
under ACCESS EXCLUSIVE.

Safe alternative: ADD CONSTRAINT ... NOT VALID (catalog only), then VALIDATE CONSTRAINT,
which takes SHARE UPDATE EXCLUSIVE and lets reads and writes go on.
"""

from __future__ import annotations

from alembic.operations import ops as aops

from bluegreen.planner import steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (aops.CreateCheckConstraintOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    condition = getattr(op.condition, "text", None) or str(op.condition)
    name = op.constraint_name or steps.object_name(op.table_name, "check")
    t, n = steps.ident(op.table_name), steps.ident(name)
    if op.kw.get("bluegreen_not_valid"):
        return Verdict(
            rule="adding-check-constraint", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"CHECK {name} on {op.table_name} is NOT VALID, but blue's new writes are "
                    "checked at once",
            fix="run it in the contract phase, after blue is retired",
        )
    plan = (
        Step("contract", "add the constraint without checking existing rows",
             f"ALTER TABLE {t} ADD CONSTRAINT {n} CHECK ({condition}) NOT VALID"),
        Step("contract", "check existing rows without blocking reads or writes",
             f"ALTER TABLE {t} VALIDATE CONSTRAINT {n}"),
    )
    return Verdict(
        rule="adding-check-constraint", severity=Severity.ERROR, phase=Phase.CONTRACT,
        blocking=True, strategy=Strategy.EXPAND_CONTRACT,
        message=f"CHECK {name} on {op.table_name} scans the whole table under ACCESS "
                "EXCLUSIVE and rejects blue's writes that break it",
        fix="add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction",
        fix_sql=plan[0].sql, steps=plan,
    )
