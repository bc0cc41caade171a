"""Changing a column's type (knows which changes rewrite: int -> bigint, text -> varchar(n), a
USING expression do; varchar(n) -> varchar(m > n), -> text, cidr -> inet, more numeric
precision at the same scale, USING the column itself, a domain over the same type do not;
text <-> citext and timestamp <-> timestamptz in UTC keep the table but rebuild its indexes;
a constrained domain checks every row).

Problem: unless the new type is binary-coercible and admits every old value
(varchar(n) -> varchar(m > n), varchar -> text, numeric(p,s) -> numeric(q > p,s)),
PostgreSQL rewrites the table and its indexes under ACCESS EXCLUSIVE. A narrowing change
rejects values blue may still write; an incompatible one (int -> text) changes what blue
reads and writes.

Safe alternative: a widening change that rewrites is rebuilt with the shadow-table copier.
A narrowing or incompatible change becomes a new column kept in step with the old one by a
trigger, backfilled in batches, with the old column dropped after blue is retired.

Bad:

    ALTER TABLE users ALTER COLUMN email TYPE varchar(50);

Good:

    ALTER TABLE users ALTER COLUMN email TYPE varchar(200);
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict
from bluegreen.planner.types import classify_type_change, parse_type

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AlterColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.modify_type is None:
        return None
    name = op.column_name.lower()
    if ctx.column_is_new(name):
        return None
    current = ctx.column(name)
    old_type = current.type if current else None
    if old_type is None:
        old_type = op.existing_type
    new_type = op.modify_type
    if new_type is ops.UNREADABLE_TYPE:
        return None
    using = op.kw.get("postgresql_using")
    if using and _same_value(using, name, new_type):
        using = None  # USING col or col::new_type: what PostgreSQL does without USING
    old_base, _ = _resolve_domain(ctx, old_type)
    new_base, constrained = _resolve_domain(ctx, new_type)
    change = classify_type_change(old_base, new_base, using=bool(using),
                                  pg_version=ctx.pg_version,
                                  time_zone=ctx.schema.session.get("timezone"))
    table = op.table_name
    if constrained and change.kind in ("same", "widen") and not change.rewrite:
        return Verdict(
            rule="changing-column-type", severity=Severity.ERROR, phase=Phase.CONTRACT,
            blocking=True, strategy=Strategy.MANUAL,
            message=f"{table}.{name} -> the domain {new_type} checks every row against the "
                    "domain's constraints under ACCESS EXCLUSIVE, and blue's writes must pass "
                    "them",
            fix="add the domain's checks as a NOT VALID CHECK on the column and VALIDATE it "
                "first, or change the type with bluegreen copy",
        )
    if change.rebuilds_indexes and not change.rewrite:
        indexes = [i.name for i in ctx.schema.indexes.values()
                   if i.table == table.lower() and name in [c.lower() for c in i.columns]]
        if indexes:
            return Verdict(
                rule="changing-column-type", severity=Severity.ERROR, blocking=True,
                phase=Phase.BREAKING if change.kind == "incompatible" else Phase.EXPAND,
                strategy=Strategy.SHADOW,
                message=f"{table}.{name}: {change.reason}: {', '.join(indexes)} rebuilt under "
                        "ACCESS EXCLUSIVE",
                fix="drop and re-create the index CONCURRENTLY around the change, or rebuild "
                    "the table with bluegreen copy",
                steps=tuple(steps.shadow_copy(table, ctx.sql)),
            )
    if change.kind in ("same", "widen") and not change.rewrite:
        return None
    if change.kind in ("same", "widen"):
        return Verdict(
            rule="changing-column-type", severity=Severity.ERROR, blocking=True,
            strategy=Strategy.SHADOW,
            message=f"{table}.{name}: {change.reason}, under ACCESS EXCLUSIVE",
            fix="rebuild the table with bluegreen copy and switch with a rename; blue reads "
                "the wider type unchanged",
            steps=tuple(steps.shadow_copy(table, ctx.sql)),
        )
    if change.kind == "incompatible" and not change.rewrite:
        return Verdict(
            rule="changing-column-type", severity=Severity.ERROR, phase=Phase.BREAKING,
            strategy=Strategy.EXPAND_CONTRACT,
            message=f"{table}.{name}: {change.reason}",
            fix=f"add {name}_new as {new_type} beside it, keep both in step with a trigger, "
                "and move green to the new column",
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


def _same_value(using: str, column: str, new_type) -> bool:
    """USING that keeps the value as PostgreSQL's own cast would: ``col``, ``col::type`` or
    ``CAST(col AS type)`` to the new type."""
    import pglast
    from pglast import ast

    try:
        expr = pglast.parse_sql(f"SELECT {using}")[0].stmt.targetList[0].val
    except Exception:
        return False
    if isinstance(expr, ast.TypeCast):
        target = parse_type(_type_sql(expr.typeName))
        if (target.name, target.mods) != (new_type.name, new_type.mods):
            return False
        expr = expr.arg
    return (isinstance(expr, ast.ColumnRef) and isinstance(expr.fields[-1], ast.String)
            and expr.fields[-1].sval.lower() == column)


def _type_sql(type_name) -> str:
    from pglast.stream import RawStream

    return RawStream()(type_name)


def _resolve_domain(ctx, sql_type):
    """(the type a domain is over, whether the domain has constraints), or the type itself."""
    if sql_type is None:
        return None, False
    domain = ctx.schema.domains.get(sql_type.name)
    if domain is None:
        return sql_type, False
    base, constrained = domain
    return parse_type(base), constrained
