"""SQLite only: a type, nullability or default change, or a constraint, that SQLite's ALTER
TABLE cannot do: rebuild with the shadow copier.

Problem: SQLite can add, drop and rename columns, and rename tables, but cannot change a
column's type, nullability or default, nor add or drop a constraint: the statement fails.

Safe alternative: rebuild the table with the new shape: `bluegreen copy TABLE --alter
"CREATE TABLE ..."` (the shadow takes writes captured by triggers, and cutover is a rename),
or Alembic's batch mode, which recreates the table under the write lock.

Target: SQLite

Bad:

    ALTER TABLE users ALTER COLUMN name SET NOT NULL;

Good:

    -- nothing SQLite's ALTER TABLE can run: rebuild the table in the new shape,
    -- bluegreen copy users --alter "CREATE TABLE users (..., name text NOT NULL, ...)"
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict

DIALECTS = ("sqlite",)
OPERATIONS = (ops.AlterColumnOp, ops.AddConstraintOp, ops.DropConstraintOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_name and op.modify_type is None and op.modify_nullable is None \
                and op.modify_server_default is False:
            return None  # RENAME COLUMN: SQLite can (renaming-column judges it)
        what = ("change a column's type" if op.modify_type is not None else
                "change a column's nullability" if op.modify_nullable is not None else
                "change a column's default")
        phase = Phase.CONTRACT if op.modify_nullable is False else Phase.EXPAND
    elif isinstance(op, ops.DropConstraintOp):
        what, phase = "drop a constraint", Phase.EXPAND
    else:
        what, phase = "add a constraint", Phase.CONTRACT
    if ctx.table_is_new:
        phase = Phase.EXPAND
    table = ctx.table_name or "<table>"
    return Verdict(
        rule="sqlite-unsupported-alter", severity=Severity.ERROR, phase=phase, blocking=True,
        strategy=Strategy.SHADOW,
        message=f"SQLite's ALTER TABLE cannot {what} ({table}): the statement fails",
        fix="rebuild the table: bluegreen copy TABLE --alter \"CREATE TABLE ... new shape\", "
            "or Alembic batch mode",
        steps=tuple(steps.shadow_copy(table, "CREATE TABLE " + table + " (... new shape ...)")),
    )
