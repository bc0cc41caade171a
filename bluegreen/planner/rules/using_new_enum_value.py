"""Using an enum value in the transaction that added it (PostgreSQL refuses).

Problem: PostgreSQL (12 and later) lets ALTER TYPE ... ADD VALUE run in a transaction, but
the new value cannot be used until that transaction commits: a later statement of the same
transaction that stores or compares it fails with "unsafe use of new value", and the whole
migration rolls back.

Safe alternative: add the value in a transaction of its own (Alembic: in
``with op.get_context().autocommit_block():``), then use it.

Schema:

    CREATE TYPE payment_state AS ENUM ('pending', 'settled');
    CREATE TABLE payments (id bigint PRIMARY KEY, state payment_state NOT NULL);

Bad:

    BEGIN;
    ALTER TYPE payment_state ADD VALUE 'refunded';
    UPDATE payments SET state = 'refunded' WHERE id = 1;
    COMMIT;

Good:

    ALTER TYPE payment_state ADD VALUE 'refunded';
    UPDATE payments SET state = 'refunded' WHERE id = 1;
"""

from __future__ import annotations

import re

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Strategy, Verdict

LATE = True
DIALECTS = ("postgresql",)
OPERATIONS = (object,)


def check(ctx) -> Verdict | None:
    if isinstance(ctx.op, (ops.AddEnumValueOp, ops.TransactionOp)):
        return None
    values = ctx.transaction.new_enum_values
    if not values:
        return None
    sql = ctx.sql
    for value, (enum, source) in values.items():
        literal = "'" + value.replace("'", "''") + "'"
        if re.search(re.escape(literal), sql):
            return Verdict(
                rule="using-new-enum-value", severity=Severity.ERROR, strategy=Strategy.MANUAL,
                message=f"{literal} was added to {enum} at {source} in this same transaction: "
                        "PostgreSQL refuses to use it before that transaction commits",
                fix="add the value in a transaction of its own (Alembic: "
                    "`with op.get_context().autocommit_block():`), then use it",
            )
    return None
