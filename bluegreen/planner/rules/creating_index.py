"""Creating an index on a table in use without CONCURRENTLY.

Problem: CREATE INDEX takes a SHARE lock: every insert, update and delete waits for the
whole build. A UNIQUE index also makes blue's duplicate writes fail (a contract change).

Safe alternative: CREATE INDEX CONCURRENTLY, outside a transaction block (in Alembic:
``postgresql_concurrently=True`` inside ``op.get_context().autocommit_block()``). If it fails
it leaves an INVALID index: drop it and run it again.
"""

from __future__ import annotations

from alembic.operations import ops as aops

from bluegreen.planner import steps
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict

OPERATIONS = (aops.CreateIndexOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new:
        return None
    concurrent = bool(op.kw.get("postgresql_concurrently"))
    phase = Phase.CONTRACT if op.unique else Phase.EXPAND
    if concurrent:
        if not op.unique:
            return None
        return Verdict(
            rule="creating-index", severity=Severity.WARNING, phase=phase,
            message=f"unique index {op.index_name} makes blue's duplicate writes to "
                    f"{op.table_name} fail",
            fix="run it in the contract phase, after blue is retired",
        )
    if ctx.target.dialect == "sqlite":
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
    sql = (f"CREATE {unique}INDEX CONCURRENTLY {steps.ident(op.index_name or 'new_index')} "
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
