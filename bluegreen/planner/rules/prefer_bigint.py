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

import sqlalchemy as sa
from alembic.operations import ops as aops

from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.schema import column_info

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (aops.CreateTableOp, aops.AddColumnOp)


def _key_columns(op) -> list[sa.Column]:
    columns = [op.column] if isinstance(op, aops.AddColumnOp) else [
        c for c in op.columns if isinstance(c, sa.Column)]
    primary = set()
    if isinstance(op, aops.CreateTableOp):
        for item in op.columns:
            if isinstance(item, sa.PrimaryKeyConstraint):
                primary |= {str(c).lower() for c in item._pending_colargs}
                primary |= {c.lower() for c in item.info.get("bluegreen_columns", [])}
    return [c for c in columns
            if c.primary_key or c.name.lower() in primary or c.name.lower() == "id"]


def check(ctx) -> Verdict | None:
    small = [c.name for c in _key_columns(ctx.op)
             if (info := column_info(c)).type is not None and info.type.name in ("int4", "int2")]
    if not small:
        return None
    table = ctx.op.table_name
    return Verdict(
        rule="prefer-bigint", severity=Severity.INFO,
        message=f"{table}.{', '.join(small)} is a 32-bit key; changing it later rewrites the "
                "table",
        fix="use bigint (or bigint GENERATED ALWAYS AS IDENTITY)",
    )
