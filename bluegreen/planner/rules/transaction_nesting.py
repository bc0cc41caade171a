"""BEGIN inside a transaction (an Alembic revision, or a second BEGIN in a SQL file).

Problem: PostgreSQL ignores the inner BEGIN with a warning, and the matching COMMIT commits
the outer transaction early: Alembic then records the revision in a state that does not
match what ran.

Safe alternative: drop BEGIN/COMMIT from Alembic revisions (use autocommit_block() for what
must run outside a transaction); in SQL, close one transaction before opening another.

Bad:

    BEGIN;
    ALTER TABLE users ADD COLUMN nickname text;
    BEGIN;
    UPDATE users SET nickname = name WHERE id = 1;
    COMMIT;
    COMMIT;

Good:

    BEGIN;
    ALTER TABLE users ADD COLUMN nickname text;
    COMMIT;
    BEGIN;
    UPDATE users SET nickname = name WHERE id = 1;
    COMMIT;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Strategy, Verdict

OPERATIONS = (ops.TransactionOp,)


def check(ctx) -> Verdict | None:
    if ctx.op.kind != "begin" or not ctx.statement.in_transaction_before:
        return None
    return Verdict(
        rule="transaction-nesting", severity=Severity.ERROR, strategy=Strategy.MANUAL,
        message="BEGIN inside a transaction that is already open: its COMMIT ends the outer "
                "one early",
        fix="remove the BEGIN/COMMIT (Alembic already runs the revision in a transaction; "
            "use autocommit_block() for statements that must run outside one)",
    )
