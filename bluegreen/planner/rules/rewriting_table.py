"""VACUUM FULL, CLUSTER, SET TABLESPACE, SET LOGGED / UNLOGGED, SET ACCESS METHOD.

Problem: each rewrites the whole table under ACCESS EXCLUSIVE: reads and writes wait for it.

Safe alternative: rebuild the table beside the live one with bluegreen's shadow-table copier
(or pg_repack) and switch with a rename.

Bad:

    VACUUM FULL orders;

Good:

    -- frees dead rows for reuse without locking the app out; to shrink the file,
    -- rebuild it beside the live table with bluegreen copy (or pg_repack)
    VACUUM orders;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Severity, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.RewriteTableOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    table = op.table_name or "<every table>"
    alter = ctx.statement.sql if ctx.statement.sql.upper().startswith("ALTER TABLE") else ""
    return Verdict(
        rule="rewriting-table", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.SHADOW,
        message=f"{op.what} rewrites {table} under ACCESS EXCLUSIVE",
        fix="rebuild it with bluegreen copy (or pg_repack) and switch with a rename",
        steps=tuple(steps.shadow_copy(table, alter)) if op.table_name else (),
    )
