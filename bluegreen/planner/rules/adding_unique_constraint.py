"""Adding a PRIMARY KEY, UNIQUE or EXCLUDE constraint, or a UNIQUE column (its index build
reads every row even when the new column is all NULL), to a table in use.

Problem: PostgreSQL builds the index under ACCESS EXCLUSIVE: reads and writes wait for the
whole build. New writes must be unique at once, a contract change.

Safe alternative: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX,
which only takes a brief lock.

Bad:

    ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name);

Good (contract phase):

    CREATE UNIQUE INDEX CONCURRENTLY users_name_key ON users (name);
    ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE USING INDEX users_name_key;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict
from bluegreen.planner.schema import column_info

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateUniqueConstraintOp, ops.CreatePrimaryKeyOp, ops.AddColumnOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    if isinstance(op, ops.AddColumnOp):
        info = column_info(op.column)
        # SQL sets info["bluegreen_unique"]; an Alembic sa.Column(..., unique=True) sets unique.
        if not (op.column.primary_key or op.column.info.get("bluegreen_unique")
                or op.column.unique):
            return None
        if (not op.column.primary_key and info.default is None and not info.identity
                and not info.generated):
            return _new_nullable_column(ctx, info.name)
        kind, columns, name = "UNIQUE", [info.name], steps.object_name(
            op.table_name, info.name, "key")
    else:
        kind = "PRIMARY KEY" if isinstance(op, ops.CreatePrimaryKeyOp) else "UNIQUE"
        if op.kw.get("bluegreen_kind") == "exclude":
            kind = "EXCLUDE"
        columns = [str(c) for c in op.columns]
        name = op.constraint_name or steps.object_name(op.table_name, "key")
        if op.kw.get("bluegreen_using_index"):
            return Verdict(
                rule="adding-unique-constraint", severity=Severity.WARNING,
                phase=Phase.CONTRACT,
                message=f"{kind} {name} on {op.table_name} uses an existing index, but "
                        "blue's new writes must be unique at once",
                fix="run it in the contract phase, after blue is retired",
            )
    table = op.table_name
    new_only = columns and all(ctx.column_is_new(c.lower()) and ctx.column(c.lower()) and
                               ctx.column(c.lower()).default is None for c in columns)
    phase = Phase.EXPAND if new_only and kind == "UNIQUE" else Phase.CONTRACT
    if kind == "EXCLUDE":
        return Verdict(
            rule="adding-unique-constraint", severity=Severity.ERROR, phase=Phase.CONTRACT,
            blocking=True, strategy=Strategy.SHADOW,
            message=f"EXCLUDE constraint {name} builds its index under ACCESS EXCLUSIVE",
            fix="build the table with the constraint through bluegreen copy",
            steps=tuple(steps.shadow_copy(table, ctx.statement.sql)),
        )
    index = steps.object_name(name, "idx") if not name.endswith("idx") else name
    cols = ", ".join(steps.ident(c) for c in columns)
    plan = [Step("contract", "build the unique index without blocking writes (outside a "
                             "transaction)",
                 f"CREATE UNIQUE INDEX CONCURRENTLY {steps.ident(index)} "
                 f"ON {steps.ident(table)} ({cols})")]
    if isinstance(op, ops.AddColumnOp):
        plan.insert(0, Step("expand", "add the column without the constraint",
                            ctx.statement.sql.replace(" UNIQUE", "").replace(
                                " PRIMARY KEY", "")))
    else:
        plan.append(Step("contract", "attach it as the constraint (brief lock)",
                         f"ALTER TABLE {steps.ident(table)} ADD CONSTRAINT {steps.ident(name)} "
                         f"{kind} USING INDEX {steps.ident(index)}"))
    if phase is Phase.EXPAND:
        plan = [Step("expand", s.description, s.sql) for s in plan]
    return Verdict(
        rule="adding-unique-constraint", severity=Severity.ERROR, phase=phase,
        blocking=True, strategy=Strategy.EXPAND_CONTRACT,
        message=f"{kind} {name} on {table} builds its index under ACCESS EXCLUSIVE"
                + (" and makes blue's duplicate writes fail" if phase is Phase.CONTRACT else
                   " (blue leaves the new column NULL, so its writes stay unique)"),
        fix="CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )


def _new_nullable_column(ctx, column: str) -> Verdict:
    """ADD COLUMN ... UNIQUE with no default: blue writes NULL, but the index build still
    reads every row under ACCESS EXCLUSIVE."""
    op = ctx.op
    table = op.table_name
    index = steps.object_name(table, column, "key")
    plain = ctx.sql.replace(" UNIQUE", "").replace(" unique", "")
    plan = (
        Step("expand", "add the column without the constraint (catalog only)", plain),
        Step("expand", "build the unique index without blocking writes (outside a "
                       "transaction)",
             f"CREATE UNIQUE INDEX CONCURRENTLY {steps.ident(index)} ON {steps.ident(table)} "
             f"({steps.ident(column)})"),
        Step("expand", "attach it as the constraint (brief lock)",
             f"ALTER TABLE {steps.ident(table)} ADD CONSTRAINT {steps.ident(index)} UNIQUE "
             f"USING INDEX {steps.ident(index)}"),
    )
    return Verdict(
        rule="adding-unique-constraint", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"the UNIQUE column {table}.{column} builds its index by reading every row "
                "under ACCESS EXCLUSIVE",
        fix="add the column plain, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... "
            "USING INDEX",
        fix_sql=plan[0].sql, steps=plan,
    )
