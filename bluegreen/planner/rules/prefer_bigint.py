"""An integer (int4 / int2) primary key or id column.

Problem: int4 keys run out at 2,147,483,647; widening a busy key column later rewrites the
table and every index and foreign key that uses it.

Safe alternative: use bigint (or bigint identity) from the start.

Bad:

    CREATE TABLE invoices (id integer PRIMARY KEY, order_id bigint NOT NULL);

Good:

    CREATE TABLE invoices (id bigint PRIMARY KEY, order_id bigint NOT NULL);
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.rules._columns import new_columns

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateTableOp, ops.AddColumnOp)


def _key_columns(op: ops.CreateTableOp | ops.AddColumnOp) -> list[ops.Column]:
    primary = set()
    if isinstance(op, ops.CreateTableOp):
        for item in op.columns:
            if isinstance(item, ops.PrimaryKeyConstraint):
                primary |= {c.lower() for c in item.columns}
    return [c for c in new_columns(op)
            if c.primary_key or c.name.lower() in primary or c.name.lower() == "id"]


def check(ctx) -> Verdict | None:
    small = [c.name for c in _key_columns(ctx.op)
             if c.type is not None and c.type.name in ("int4", "int2")]
    if not small:
        return None
    table = ctx.op.table_name
    return Verdict(
        rule="prefer-bigint", severity=Severity.INFO,
        message=f"{table}.{', '.join(small)} is a 32-bit key; changing it later rewrites the "
                "table",
        fix="use bigint (or bigint GENERATED ALWAYS AS IDENTITY)",
    )
