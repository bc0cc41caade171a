"""Adding an enum value inside a transaction before PostgreSQL 12.

Problem: before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction
block, so the migration fails. (Adding a value is otherwise an expand change.)

Safe alternative: run it outside a transaction (Alembic: ``autocommit_block()``).

Target: PostgreSQL 11

Schema:

    CREATE TYPE payment_state AS ENUM ('pending', 'settled');

Bad:

    BEGIN;
    ALTER TYPE payment_state ADD VALUE 'refunded';
    COMMIT;

Good:

    ALTER TYPE payment_state ADD VALUE 'refunded';
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.AddEnumValueOp,)


def check(ctx) -> Verdict | None:
    if ctx.pg_version >= 12 or not ctx.statement.in_transaction:
        return None
    return Verdict(
        rule="adding-enum-value", severity=Severity.ERROR, strategy=Strategy.MANUAL,
        message=f"ALTER TYPE {ctx.op.name} ADD VALUE cannot run in a transaction before "
                f"PostgreSQL 12 (target is {ctx.pg_version})",
        fix="run it outside a transaction: in Alembic inside "
            "`with op.get_context().autocommit_block():`",
    )
