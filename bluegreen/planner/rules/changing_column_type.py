"""Changing a column's type.

Problem: unless the new type is binary-coercible and admits every old value
(varchar(n) -> varchar(m > n), varchar -> text, numeric(p,s) -> numeric(q > p,s)),
PostgreSQL rewrites the table and its indexes under ACCESS EXCLUSIVE. A narrowing change
rejects values blue may still write; an incompatible one (int -> text) changes what blue
reads and writes.

Safe alternative: a widening change that rewrites is rebuilt with the shadow-table copier.
A narrowing or incompatible change becomes a new column kept in step with the old one by a
trigger, backfilled in batches, with the old column dropped after blue is retired.
"""

from __future__ import annotations

from alembic.operations import ops as aops

from bluegreen.planner import steps
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict
from bluegreen.planner.schema import type_of
from bluegreen.planner.types import classify_type_change

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (aops.AlterColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.modify_type is None:
        return None
    name = op.column_name.lower()
    if ctx.column_is_new(name):
        return None
    current = ctx.column(name)
    old_type = current.type if current else None
    if old_type is None and op.existing_type is not None:
        old_type = type_of(op.existing_type)
    new_type = type_of(op.modify_type)
    if new_type is None:
        return None
    using = op.kw.get("postgresql_using")
    change = classify_type_change(old_type, new_type, using=bool(using),
                                  pg_version=ctx.pg_version)
    table = op.table_name
    if change.kind in ("same", "widen") and not change.rewrite:
        return None
    if change.kind in ("same", "widen"):
        return Verdict(
            rule="changing-column-type", severity=Severity.ERROR, blocking=True,
            strategy=Strategy.SHADOW,
            message=f"{table}.{name}: {change.reason}, under ACCESS EXCLUSIVE",
            fix="rebuild the table with bluegreen copy and switch with a rename; blue reads "
                "the wider type unchanged",
            steps=tuple(steps.shadow_copy(table, ctx.statement.sql)),
        )
    phase = Phase.CONTRACT if change.kind == "narrow" else Phase.BREAKING
    new_column = f"{name}_new"
    column_ref = steps.ident(name)
    if using:
        forward = "(" + using.replace(column_ref, f"NEW.{column_ref}") + ")"
    else:
        forward = f"CAST(NEW.{column_ref} AS {new_type})"
    backward = (f"CAST(NEW.{steps.ident(new_column)} AS {old_type})" if old_type
                else f"NEW.{steps.ident(new_column)}")
    plan = steps.dual_write_column(
        ctx.table, table, name, new_column, str(new_type), forward, backward,
        [i for i in ctx.schema.indexes.values()], ctx.pg_version,
        not_null=bool(current and not current.nullable),
        default=None, what=f"reads and writes {new_column} as {new_type}")
    severity = Severity.ERROR if phase is Phase.BREAKING else Severity.WARNING
    return Verdict(
        rule="changing-column-type", severity=severity, phase=phase, blocking=change.rewrite,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"{table}.{name}: {change.reason}"
                + ("; pass --schema or --database-url to judge it exactly"
                   if old_type is None else ""),
        fix=f"add {new_column} as {new_type}, keep it in step with a trigger, backfill, "
            f"move green to it, and drop {name} after blue is retired",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )
