"""Adding a foreign key to a table in use.

Problem: new writes are checked at once (a contract change, NOT VALID or not); without NOT
VALID, PostgreSQL also scans the table under SHARE ROW EXCLUSIVE on both tables, blocking
their writes for the whole scan.

Safe alternative: ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in its own
transaction (SHARE UPDATE EXCLUSIVE: reads and writes go on).

Bad:

    ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id);

Good (contract phase):

    ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
    ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateForeignKeyOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    name = op.constraint_name or steps.object_name(op.source_table, "fkey")
    if op.kw.get("bluegreen_not_valid"):
        return Verdict(
            rule="adding-foreign-key", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"foreign key {name} is NOT VALID, but blue's new writes are checked at "
                    "once",
            fix="run it in the contract phase, after blue is retired",
        )
    t, n = steps.ident(op.source_table), steps.ident(name)
    local = ", ".join(steps.ident(c) for c in op.local_cols)
    remote = ", ".join(steps.ident(c) for c in op.remote_cols)
    plan = (
        Step("contract", "add the foreign key without checking existing rows",
             f"ALTER TABLE {t} ADD CONSTRAINT {n} FOREIGN KEY ({local}) "
             f"REFERENCES {steps.ident(op.referent_table)} ({remote}) NOT VALID"),
        Step("contract", "check existing rows without blocking reads or writes",
             f"ALTER TABLE {t} VALIDATE CONSTRAINT {n}"),
    )
    return Verdict(
        rule="adding-foreign-key", severity=Severity.ERROR, phase=Phase.CONTRACT,
        blocking=True, strategy=Strategy.EXPAND_CONTRACT,
        message=f"foreign key {name} scans {op.source_table} while blocking writes to it and "
                f"to {op.referent_table}",
        fix="add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction",
        fix_sql=plan[0].sql, steps=plan,
    )
