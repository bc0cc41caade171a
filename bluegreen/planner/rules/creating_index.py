"""Creating an index on a table in use without CONCURRENTLY (the fix keeps expressions,
opclasses and WHERE); on a partitioned table, ON ONLY plus one concurrent build per
partition.

Problem: CREATE INDEX takes a SHARE lock: every insert, update and delete waits for the
whole build. A UNIQUE index also makes blue's duplicate writes fail (a contract change).

Safe alternative: CREATE INDEX CONCURRENTLY, outside a transaction block (in Alembic:
``postgresql_concurrently=True`` inside ``op.get_context().autocommit_block()``). If it fails
it leaves an INVALID index: drop it and run it again.

Bad:

    CREATE INDEX orders_status_idx ON orders (status);

Good:

    CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

OPERATIONS = (ops.CreateIndexOp,)


def _concurrent_sql(sql: str) -> str | None:
    """The same CREATE INDEX with CONCURRENTLY: expressions, opclasses, INCLUDE, WHERE and
    the access method kept exactly (re-printed from PostgreSQL's own parse tree)."""
    import pglast
    from pglast import ast
    from pglast.stream import RawStream

    try:
        (raw,) = pglast.parse_sql(sql)
    except (pglast.parser.ParseError, ValueError):
        return None
    if not isinstance(raw.stmt, ast.IndexStmt):
        return None
    raw.stmt.concurrent = True
    return RawStream()(raw.stmt)


def _on_new_nullable_columns(ctx) -> bool:
    names = [str(c).lower() for c in ctx.op.columns]
    return bool(names) and all(
        ctx.column_is_new(n) and ctx.column(n) is not None and ctx.column(n).default is None
        for n in names)


def _partitioned(ctx, phase: Phase) -> Verdict:
    """CREATE INDEX on a partitioned table builds on every partition under SHARE, and
    CONCURRENTLY is refused there: build per partition and attach."""
    op = ctx.op
    table = steps.ident(op.table_name)
    name = op.index_name or steps.object_name(op.table_name, "idx")
    parent_sql = ctx.sql.replace(f" ON {op.table_name}", f" ON ONLY {op.table_name}", 1)
    partitions = (ctx.table.partitions if ctx.table else []) or [":partition"]
    plan = [Step(phase.value, "create the index on the parent only (invalid until every "
                              "partition has one; no build)", parent_sql)]
    for partition in partitions:
        index = steps.object_name(partition, name)
        columns = ", ".join(str(c) for c in op.columns)
        unique = "UNIQUE " if op.unique else ""
        plan += [
            Step(phase.value, f"build it on {partition} without blocking writes",
                 f"CREATE {unique}INDEX CONCURRENTLY {steps.ident(index)} ON "
                 f"{steps.ident(partition)} ({columns})"),
            Step(phase.value, f"attach {partition}'s index (the parent's turns valid with "
                              "the last one)",
                 f"ALTER INDEX {steps.ident(name)} ATTACH PARTITION {steps.ident(index)}"),
        ]
    return Verdict(
        rule="creating-index", severity=Severity.ERROR, phase=phase, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"CREATE INDEX on the partitioned table {op.table_name} builds on every "
                "partition under SHARE (writes wait), and CONCURRENTLY is not allowed on it",
        fix=f"CREATE INDEX ON ONLY {table}, build each partition's index CONCURRENTLY, and "
            "ALTER INDEX ... ATTACH PARTITION each",
        fix_sql=plan[0].sql, steps=tuple(plan),
    )


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new or op.kw.get("bluegreen_only"):
        return None  # ON ONLY a partitioned table: catalog only, no build
    concurrent = bool(op.kw.get("postgresql_concurrently"))
    phase = Phase.CONTRACT if op.unique and not _on_new_nullable_columns(ctx) else Phase.EXPAND
    if ctx.table is not None and ctx.table.partitioned and ctx.target.concurrent_index:
        return _partitioned(ctx, phase)
    if concurrent:
        if phase is Phase.EXPAND:
            return None
        return Verdict(
            rule="creating-index", severity=Severity.WARNING, phase=phase,
            message=f"unique index {op.index_name} makes blue's duplicate writes to "
                    f"{op.table_name} fail",
            fix="run it in the contract phase, after blue is retired",
        )
    if not ctx.target.concurrent_index:
        return Verdict(
            rule="creating-index", severity=Severity.ERROR, phase=phase, blocking=True,
            strategy=Strategy.MANUAL,
            message=f"CREATE INDEX on {op.table_name} holds SQLite's database write lock for "
                    "the whole build: every writer waits",
            fix="SQLite has no CONCURRENTLY: build it at a quiet time, or as part of a "
                "bluegreen copy of the table",
        )
    columns = ", ".join(c if "(" in c else steps.ident(c) for c in map(str, op.columns))
    unique = "UNIQUE " if op.unique else ""
    where = f" WHERE {op.kw['postgresql_where']}" if op.kw.get("postgresql_where") else ""
    sql = _concurrent_sql(ctx.sql) or (
        f"CREATE {unique}INDEX CONCURRENTLY {steps.ident(op.index_name or 'new_index')} "
        f"ON {steps.ident(op.table_name)} ({columns}){where}")
    return Verdict(
        rule="creating-index", severity=Severity.ERROR, phase=phase, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"CREATE INDEX on {op.table_name} blocks its writes for the whole build",
        fix="use CREATE INDEX CONCURRENTLY outside a transaction block",
        fix_sql=sql,
        steps=(Step(phase.value, "build it without blocking writes, outside a transaction",
                    sql),),
    )
