"""DROP DATABASE in a migration.

Problem: it destroys everything blue and green use, and cannot be undone.

Safe alternative: never from a migration; do it by hand, after a backup, once nothing uses
the database.

Bad:

    DROP DATABASE shop;

Good:

    -- nothing in the migration: drop it by hand, after a backup, once nothing uses it
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict

OPERATIONS = (ops.OtherStatementOp,)


def check(ctx) -> Verdict | None:
    if ctx.op.kind != "DropdbStmt":
        return None
    return Verdict(
        rule="dropping-database", severity=Severity.ERROR, phase=Phase.CONTRACT,
        strategy=Strategy.MANUAL,
        message="DROP DATABASE destroys everything blue and green use",
        fix="remove it from the migration; drop the database by hand after a backup",
    )
