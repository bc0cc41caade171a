"""UPDATE or DELETE not bounded by a key, a LIMIT batch or a committing loop (a loop in one
transaction counts as one statement), or TRUNCATE.

Problem: one statement locks every row it touches until it commits, blocking blue's writes
to those rows for a time that grows with the table, and bloats it. TRUNCATE removes data
blue uses under ACCESS EXCLUSIVE.

Safe alternative: change rows in batches of a few thousand by primary key, each batch its own
transaction. Deleting or truncating data blue uses is a contract step.

Bad:

    UPDATE orders SET status = 'paid' WHERE status = 'settled';

Good:

    -- run it again until it changes no row; each run is its own transaction
    UPDATE orders SET status = 'paid'
    WHERE id IN (SELECT id FROM orders WHERE status = 'settled' LIMIT 1000);
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Batch, Phase, Severity, Step, Strategy, Verdict

OPERATIONS = (ops.DataChangeOp,)


_CATALOGS = ("pg_", "pg_catalog.", "information_schema.")


def _bounded(ctx) -> str | None:
    """Why the statement touches a bounded set of rows, or None."""
    op = ctx.op
    if op.has_limit:
        return "it picks one batch through a sub-select with LIMIT"
    if op.in_loop and op.loop_commits:
        return "its loop commits after each round"
    table = ctx.table
    keys = {"id"} | set(table.primary_key if table else [])
    if table is not None:
        keys |= {c.columns[0] for c in table.constraints.values()
                 if c.kind in ("primary", "unique") and len(c.columns) == 1}
    if any(column.lower() in keys for column in op.bounded_by):
        return "its WHERE pins a key to constants"
    return None


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new or op.kind == "insert":
        return None
    table = op.table_name
    if table.lower().startswith(_CATALOGS):
        return None  # a system catalog: rows of the schema itself, not the app's data
    bounded = None if op.kind == "truncate" else _bounded(ctx)
    if bounded is not None:
        if op.kind != "delete":
            return None
        return Verdict(
            rule="unbatched-data-change", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"DELETE removes rows of {table} that blue may use ({bounded})",
            fix="run it in the contract phase, after blue is retired",
        )
    if op.kind == "truncate":
        return Verdict(
            rule="unbatched-data-change", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"TRUNCATE {table} removes data blue uses, under ACCESS EXCLUSIVE",
            fix="run it in the contract phase, after blue is retired",
        )
    pk = ctx.table.primary_key if ctx.table else []
    phase = Phase.CONTRACT if op.kind == "delete" else Phase.EXPAND
    statement = ctx.sql.strip().rstrip(";")
    batch = Batch(table, tuple(pk), statement) if pk else None
    key = ", ".join(steps.ident(k) for k in pk) if pk else "id"
    if op.kind == "delete":
        where = statement.split(" WHERE ", 1)[1] if " WHERE " in statement else "true"
        key_row = f"({key})" if len(pk) > 1 else key
        step = Step(
            "migrate" if phase is Phase.EXPAND else "contract",
            f"delete {steps.BATCH_ROWS} rows at a time",
            f"DELETE FROM {steps.ident(table)} WHERE {key_row} IN (SELECT {key} FROM "
            f"{steps.ident(table)} WHERE {where} LIMIT {steps.BATCH_ROWS})",
            repeat=True, batch=batch)
    else:
        step = Step("migrate", f"run the UPDATE over primary-key ranges of "
                               f"{steps.BATCH_ROWS}: add `AND ({key}) > :lo AND ({key}) <= "
                               ":hi` and walk :lo upwards, one transaction per range "
                               "(bluegreen apply does this)", batch=batch)
    return Verdict(
        rule="unbatched-data-change", severity=Severity.ERROR, phase=phase, blocking=True,
        # With a known primary key, bluegreen apply runs it in key ranges.
        strategy=Strategy.EXPAND_CONTRACT if batch else Strategy.MANUAL,
        message=(f"{op.kind.upper()} on {table} runs in a loop inside one transaction: every "
                 "row it touches stays locked until the end" if op.in_loop else
                 f"{op.kind.upper()} on {table} in one statement locks every row it touches "
                 "until it commits"),
        fix=f"run it in batches of {steps.BATCH_ROWS} rows by primary key, one transaction "
            "each",
        steps=(step,),
    )
