"""Running CREATE/DROP INDEX CONCURRENTLY or REINDEX CONCURRENTLY inside a transaction.

Problem: PostgreSQL refuses it ("cannot run inside a transaction block"), and inside a DO
block too, so the migration fails when it reaches it. Alembic runs every revision in a
transaction by default.

Safe alternative: in Alembic, wrap the op in ``with op.get_context().autocommit_block():``;
in SQL, move it outside BEGIN ... COMMIT.

Bad:

    BEGIN;
    CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
    COMMIT;

Good:

    CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Strategy, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.CreateIndexOp, ops.DropIndexOp, ops.ReindexOp)


def check(ctx) -> Verdict | None:
    op = ctx.op
    concurrent = (op.concurrently if isinstance(op, ops.ReindexOp)
                  else bool(op.kw.get("postgresql_concurrently")))
    if not concurrent:
        return None
    if ctx.statement.operation == "do":
        return Verdict(
            rule="concurrently-in-transaction", severity=Severity.ERROR,
            strategy=Strategy.MANUAL,
            message="CONCURRENTLY cannot run inside a DO block (a function): this statement "
                    "fails",
            fix="run it as a statement of its own, outside any transaction block",
        )
    if not ctx.statement.in_transaction:
        return None
    return Verdict(
        rule="concurrently-in-transaction", severity=Severity.ERROR, strategy=Strategy.MANUAL,
        message="CONCURRENTLY cannot run inside a transaction block: this statement fails",
        fix="in Alembic wrap it in `with op.get_context().autocommit_block():`; in SQL move "
            "it outside BEGIN ... COMMIT",
    )
