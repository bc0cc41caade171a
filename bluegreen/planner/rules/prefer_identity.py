"""A serial / bigserial column in a new table.

Problem: serial creates a separately owned sequence with loose permissions and ownership
that is easy to lose on a table copy or rename; identity columns are the SQL-standard
replacement and move with the table.

Safe alternative: bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT).

Bad:

    CREATE TABLE invoices (id bigserial PRIMARY KEY, order_id bigint NOT NULL);

Good:

    CREATE TABLE invoices (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        order_id bigint NOT NULL
    );
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Verdict
from bluegreen.planner.rules._columns import new_columns

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateTableOp,)


def check(ctx) -> Verdict | None:
    serials = [c.name for c in new_columns(ctx.op) if c.type is not None and c.type.serial]
    if not serials:
        return None
    return Verdict(
        rule="prefer-identity", severity=Severity.INFO,
        message=f"{ctx.op.table_name}.{', '.join(serials)} uses serial",
        fix="use bigint GENERATED ALWAYS AS IDENTITY",
    )
