"""EXECUTE of a string built at run time, or a DO block bluegreen cannot read: reported as
"cannot judge", never as safe.

Problem: ``EXECUTE`` of a string built at run time (``format(...)``, concatenation with a
variable) inside a DO block, or a DO block in another language or that does not parse, runs
statements bluegreen cannot read: it cannot say whether they lock, rewrite or break
anything, so it says so instead of passing them as safe.

Safe alternative: write the statements out (an EXECUTE of a constant string is read and
judged), or review them by hand and mark the block ``-- bluegreen: ignore dynamic-sql``.

Bad:

    DO $$
    BEGIN
        EXECUTE format('ALTER TABLE %I ADD COLUMN note text', 'orders');
    END $$;

Good:

    ALTER TABLE orders ADD COLUMN note text;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Strategy, Verdict

OPERATIONS = (ops.DynamicSqlOp,)


def check(ctx) -> Verdict | None:
    return Verdict(
        rule="dynamic-sql", severity=Severity.ERROR, strategy=Strategy.MANUAL,
        message=f"cannot judge {ctx.op.what}: its SQL is only known when it runs",
        fix="write the statements out, or review them by hand and add "
            "`-- bluegreen: ignore dynamic-sql`",
    )
