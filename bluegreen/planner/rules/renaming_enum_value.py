"""Renaming an enum value.

Problem: blue still writes and compares the old label, which stops existing at once.

Safe alternative: add the new value (expand), move green and the data to it, and stop using
the old one; PostgreSQL cannot drop an enum value, so retire it in code or rebuild the type in
the contract phase.

Schema:

    CREATE TYPE payment_state AS ENUM ('pending', 'settled');

Bad:

    ALTER TYPE payment_state RENAME VALUE 'settled' TO 'paid';

Good:

    ALTER TYPE payment_state ADD VALUE 'paid';
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Step, Strategy, Verdict
from bluegreen.planner.steps import ident

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.RenameEnumValueOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    new = op.new_value.replace("'", "''")
    add = f"ALTER TYPE {ident(op.name)} ADD VALUE IF NOT EXISTS '{new}'"
    return Verdict(
        rule="renaming-enum-value", severity=Severity.ERROR, phase=Phase.BREAKING,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"renaming {op.name} value {op.old_value!r} to {op.new_value!r} breaks blue, "
                "which still uses the old label",
        fix="add the new value, deploy green writing it, update existing rows in batches, "
            "and stop using the old label once blue is retired",
        fix_sql=add,
        steps=(Step("expand", "add the new label beside the old one", add),
               Step("migrate", f"deploy green: it writes {op.new_value!r} and reads both; "
                               "update rows in batches from the old label")),
    )
