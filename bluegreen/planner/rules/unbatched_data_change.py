"""UPDATE or DELETE of a whole table (or a large part) in one statement, or TRUNCATE.

Problem: one statement locks every row it touches until it commits, blocking blue's writes
to those rows for a time that grows with the table, and bloats it. TRUNCATE removes data
blue uses under ACCESS EXCLUSIVE.

Safe alternative: change rows in batches of a few thousand by primary key, each batch its own
transaction. Deleting or truncating data blue uses is a contract step.
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

OPERATIONS = (ops.DataChangeOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new or op.kind == "insert":
        return None
    table = op.table_name
    if op.kind == "truncate":
        return Verdict(
            rule="unbatched-data-change", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"TRUNCATE {table} removes data blue uses, under ACCESS EXCLUSIVE",
            fix="run it in the contract phase, after blue is retired",
        )
    pk = ctx.table.primary_key if ctx.table else []
    key = steps.ident(pk[0]) if len(pk) == 1 else "id"
    phase = Phase.CONTRACT if op.kind == "delete" else Phase.EXPAND
    if op.kind == "delete":
        where = ctx.statement.sql.split(" WHERE ", 1)[1] if " WHERE " in ctx.statement.sql \
            else "true"
        batch = Step("migrate", f"delete {steps.BATCH_ROWS} rows at a time",
                     f"DELETE FROM {steps.ident(table)} WHERE {key} IN (SELECT {key} FROM "
                     f"{steps.ident(table)} WHERE {where} LIMIT {steps.BATCH_ROWS})",
                     repeat=True)
    else:
        batch = Step("migrate", f"run the UPDATE over key ranges of {steps.BATCH_ROWS}: add "
                                f"`AND {key} > :lo AND {key} <= :hi` and walk :lo upwards, "
                                "one transaction per range")
    return Verdict(
        rule="unbatched-data-change", severity=Severity.ERROR, phase=phase, blocking=True,
        strategy=Strategy.MANUAL,
        message=f"{op.kind.upper()} on {table} in one statement locks every row it touches "
                "until it commits",
        fix=f"run it in batches of {steps.BATCH_ROWS} rows by primary key, one transaction "
            "each",
        steps=(batch,),
    )
