"""ALTER DOMAIN ADD CONSTRAINT / VALIDATE CONSTRAINT / SET NOT NULL: scans every column of the
domain, SHARE on each table.

Problem: every column of every table that uses the domain is checked, each table under a
SHARE lock (up to PostgreSQL 17, VALIDATE CONSTRAINT too): writes to all of them wait for
the scans. New values blue writes must satisfy it at once: a contract change.

Safe alternative: ADD CONSTRAINT ... NOT VALID (catalog only) in the contract phase; for the
existing rows, add NOT VALID CHECK constraints on the tables' columns and VALIDATE those
(SHARE UPDATE EXCLUSIVE), since validating the domain constraint itself locks out writes.

Schema:

    CREATE DOMAIN quantity AS integer;
    CREATE TABLE order_lines (order_id bigint NOT NULL, qty quantity);

Bad:

    ALTER DOMAIN quantity ADD CONSTRAINT quantity_positive CHECK (VALUE > 0);

Good (contract phase):

    ALTER DOMAIN quantity ADD CONSTRAINT quantity_positive CHECK (VALUE > 0) NOT VALID;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.AlterDomainOp,)
_SCANS = {"add_constraint", "validate_constraint", "set_not_null"}


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.action not in _SCANS or ctx.schema.is_new_object(op.name):
        return None
    if op.action == "add_constraint" and op.not_valid:
        return Verdict(
            rule="altering-domain", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"constraint {op.constraint} on domain {op.name} is NOT VALID, but blue's "
                    "new values are checked at once",
            fix="run it in the contract phase, after blue is retired",
        )
    what = {"add_constraint": f"ADD CONSTRAINT {op.constraint or ''}".strip(),
            "validate_constraint": f"VALIDATE CONSTRAINT {op.constraint}",
            "set_not_null": "SET NOT NULL"}[op.action]
    phase = Phase.EXPAND if op.action == "validate_constraint" else Phase.CONTRACT
    return Verdict(
        rule="altering-domain", severity=Severity.ERROR, phase=phase, blocking=True,
        message=f"ALTER DOMAIN {op.name} {what} scans every column of type {op.name}, holding "
                "SHARE on each table: their writes wait",
        fix="add domain constraints NOT VALID, and check existing rows with NOT VALID CHECK "
            "constraints on the tables' columns, validated one table at a time",
    )
