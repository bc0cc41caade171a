"""CREATE TRIGGER, CREATE RULE, or DISABLE TRIGGER on a table in use (blue's writes change
behaviour).

Problem: blue's writes run the new trigger (or skip a disabled one: with ALL, foreign key
checks too) from the commit on, so blue's behaviour changes under it. CREATE TRIGGER takes
SHARE ROW EXCLUSIVE and CREATE RULE ACCESS EXCLUSIVE, briefly.

Safe alternative: make the trigger accept what blue writes; re-enable in the same
transaction what you disable.

Bad:

    ALTER TABLE orders DISABLE TRIGGER ALL;
    UPDATE orders SET status = 'paid' WHERE status = 'settled';
    ALTER TABLE orders ENABLE TRIGGER ALL;

Good:

    -- the triggers stay on; the change runs in batches, until none is left
    UPDATE orders SET status = 'paid' WHERE id BETWEEN 1 AND 1000 AND status = 'settled';
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.TriggerOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if ctx.table_is_new or op.what == "enable trigger":
        return None
    if op.what == "disable trigger":
        return Verdict(
            rule="changing-triggers", severity=Severity.WARNING,
            message=f"blue's writes to {op.table_name} skip the disabled trigger(s) until they "
                    "are enabled again (ALL includes foreign key checks)",
            fix="enable them again in the same transaction",
        )
    return Verdict(
        rule="changing-triggers", severity=Severity.INFO,
        message=f"blue's writes to {op.table_name} run the new {op.what.split()[-1]} "
                f"{op.name or ''} from now on".replace("  ", " "),
        fix="make sure it accepts every write blue makes",
    )
