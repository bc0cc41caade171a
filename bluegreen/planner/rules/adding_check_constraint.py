"""Adding a CHECK constraint to a table in use, or a column with an inline CHECK (both scan
it; expand when it only names new columns).

Problem: new writes are checked at once, so blue's writes that break it fail: a contract
change, with or without NOT VALID. Without NOT VALID, PostgreSQL also scans the whole table
under ACCESS EXCLUSIVE.

Safe alternative: ADD CONSTRAINT ... NOT VALID (catalog only), then VALIDATE CONSTRAINT,
which takes SHARE UPDATE EXCLUSIVE and lets reads and writes go on.

Bad:

    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);

Good (contract phase):

    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateCheckConstraintOp, ops.AddColumnOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    if isinstance(op, ops.AddColumnOp):
        return _inline(ctx)
    condition = op.condition
    name = op.constraint_name or steps.object_name(op.table_name, "check")
    t, n = steps.ident(op.table_name), steps.ident(name)
    if op.kw.get("bluegreen_not_valid"):
        return Verdict(
            rule="adding-check-constraint", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"CHECK {name} on {op.table_name} is NOT VALID, but blue's new writes are "
                    "checked at once",
            fix="run it in the contract phase, after blue is retired",
        )
    new_only = _on_new_columns(ctx, condition)
    if new_only:
        plan = (
            Step("expand", "add the constraint without checking existing rows",
                 f"ALTER TABLE {t} ADD CONSTRAINT {n} CHECK ({condition}) NOT VALID"),
            Step("expand", "check existing rows without blocking reads or writes",
                 f"ALTER TABLE {t} VALIDATE CONSTRAINT {n}"),
        )
        return Verdict(
            rule="adding-check-constraint", severity=Severity.ERROR, blocking=True,
            strategy=Strategy.EXPAND_CONTRACT,
            message=f"CHECK {name} on {op.table_name} scans the whole table under ACCESS "
                    "EXCLUSIVE (it only names columns this migration added, which blue does "
                    "not write)",
            fix="add it NOT VALID, then VALIDATE CONSTRAINT in a separate transaction",
            fix_sql=plan[0].sql, steps=plan,
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


def _columns_in(expression: str) -> set[str] | None:
    import pglast
    from pglast import ast
    from pglast.visitors import Visitor

    try:
        tree = pglast.parse_sql(f"SELECT {expression}")
    except pglast.parser.ParseError:
        return None
    names: set[str] = set()

    class _Columns(Visitor):
        def visit_ColumnRef(self, ancestors, node):  # noqa: N802
            if isinstance(node.fields[-1], ast.String):
                names.add(node.fields[-1].sval.lower())

    _Columns()(tree)
    return names


def _on_new_columns(ctx, condition: str) -> bool:
    """The check only names columns this migration added (blue never writes them)."""
    columns = _columns_in(condition)
    return bool(columns) and all(ctx.column_is_new(c) for c in columns)


def _inline(ctx) -> Verdict | None:
    """ADD COLUMN ... CHECK (...): the new column's values are checked row by row."""
    op = ctx.op
    condition = op.column.info.get("bluegreen_check")
    if not condition:
        return None
    table, column = op.table_name, op.column.name
    name = steps.object_name(table, column, "check")
    t, n = steps.ident(table), steps.ident(name)
    plain = ctx.sql.split(" CHECK", 1)[0] if " CHECK" in ctx.sql else None
    plan = tuple(s for s in (
        Step("expand", "add the column without the check (catalog only)", plain)
        if plain else None,
        Step("expand", "add the check without a scan",
             f"ALTER TABLE {t} ADD CONSTRAINT {n} CHECK ({condition}) NOT VALID"),
        Step("expand", "check existing rows without blocking reads or writes",
             f"ALTER TABLE {t} VALIDATE CONSTRAINT {n}"),
    ) if s is not None)
    return Verdict(
        rule="adding-check-constraint", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"the CHECK on the new column {table}.{column} is verified by reading every "
                "row under ACCESS EXCLUSIVE",
        fix="add the column plain, then the CHECK NOT VALID, then VALIDATE CONSTRAINT",
        fix_sql=plan[0].sql, steps=plan,
    )
