"""DETACH PARTITION without CONCURRENTLY (ACCESS EXCLUSIVE on the whole partitioned table;
rows leave what blue queries).

Problem: the partition's rows vanish from the partitioned table, which blue still queries (a
contract change), and the detach takes ACCESS EXCLUSIVE on the whole partitioned table: if it
waits for a long query, every query on every partition queues behind it.

Safe alternative: from PostgreSQL 14, DETACH PARTITION ... CONCURRENTLY (outside a
transaction block) takes SHARE UPDATE EXCLUSIVE on the parent; run it in the contract phase.

Schema:

    CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE events_2020 PARTITION OF events
        FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');

Bad:

    ALTER TABLE events DETACH PARTITION events_2020;

Good (contract phase):

    ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Phase, Severity, Step, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.PartitionOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.action != "detach" or ctx.table_is_new or ctx.schema.is_new(op.partition):
        return None
    if op.concurrently or op.finalize:
        return Verdict(
            rule="detaching-partition", severity=Severity.WARNING, phase=Phase.CONTRACT,
            message=f"{op.partition}'s rows leave {op.table_name}, which blue still queries",
            fix="run it in the contract phase, after blue is retired",
        )
    if ctx.pg_version >= 14:
        sql = (f"ALTER TABLE {steps.ident(op.table_name)} DETACH PARTITION "
               f"{steps.ident(op.partition)} CONCURRENTLY")
        fix = "DETACH PARTITION ... CONCURRENTLY, outside a transaction, after blue is retired"
    else:
        sql, fix = None, "run it at a quiet time with a short lock_timeout, after blue is retired"
    return Verdict(
        rule="detaching-partition", severity=Severity.ERROR, phase=Phase.CONTRACT,
        message=f"DETACH PARTITION {op.partition} takes ACCESS EXCLUSIVE on all of "
                f"{op.table_name}, and its rows leave what blue queries",
        fix=fix, fix_sql=sql,
        steps=(Step("contract", "detach without locking out the partitioned table", sql),)
        if sql else (),
    )
