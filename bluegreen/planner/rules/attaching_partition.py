"""ATTACH PARTITION of a table with rows (scans it under ACCESS EXCLUSIVE).

Problem: PostgreSQL scans the table being attached to check that every row fits the
partition bounds, holding ACCESS EXCLUSIVE on it (and SHARE UPDATE EXCLUSIVE on the parent,
ACCESS EXCLUSIVE before PostgreSQL 12); a default partition is scanned too.

Safe alternative: add a CHECK constraint that matches the bounds NOT VALID, VALIDATE it
(SHARE UPDATE EXCLUSIVE), attach (the validated check spares the scan), then drop the check.

Schema:

    CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE events_2025 (id bigint NOT NULL, at date NOT NULL);

Bad:

    ALTER TABLE events ATTACH PARTITION events_2025
        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

Good:

    -- a new range: create the partition in place (it is empty: nothing to scan)
    CREATE TABLE events_2026 PARTITION OF events
        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Severity, Step, Strategy, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.PartitionOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.action != "attach" or ctx.schema.is_new(op.partition):
        return None
    part = steps.ident(op.partition)
    check_name = steps.ident(steps.object_name(op.partition, "bounds"))
    plan = (
        Step("expand", "a CHECK matching the partition bounds, without a scan (write the "
                       "bounds as :bounds_condition)",
             f"ALTER TABLE {part} ADD CONSTRAINT {check_name} CHECK (:bounds_condition) "
             "NOT VALID"),
        Step("expand", "check the rows under SHARE UPDATE EXCLUSIVE",
             f"ALTER TABLE {part} VALIDATE CONSTRAINT {check_name}"),
        Step("expand", "attach: the validated check proves the bounds, no scan", ctx.sql),
        Step("expand", "drop the check, now redundant",
             f"ALTER TABLE {part} DROP CONSTRAINT {check_name}"),
    )
    return Verdict(
        rule="attaching-partition", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"ATTACH PARTITION scans {op.partition} under ACCESS EXCLUSIVE to check its "
                "rows fit the bounds",
        fix="add a CHECK matching the bounds NOT VALID, VALIDATE it, then attach",
        fix_sql=plan[0].sql, steps=plan,
    )
