"""REFRESH MATERIALIZED VIEW without CONCURRENTLY.

Problem: the refresh runs the view's query and swaps the result in under ACCESS EXCLUSIVE on
the view: blue's reads of it wait for the whole query.

Safe alternative: REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the
view): it takes EXCLUSIVE, so reads go on while it runs.

Schema:

    CREATE MATERIALIZED VIEW order_totals AS
        SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id;
    CREATE UNIQUE INDEX order_totals_user_id ON order_totals (user_id);

Bad:

    REFRESH MATERIALIZED VIEW order_totals;

Good:

    REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;
"""

from __future__ import annotations

from bluegreen.planner import ops, steps
from bluegreen.planner.model import Severity, Step, Strategy, Verdict

DIALECTS = ("postgresql",)
OPERATIONS = (ops.RefreshMaterializedViewOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    if op.concurrently or not op.with_data or ctx.schema.is_new(op.name):
        return None
    sql = f"REFRESH MATERIALIZED VIEW CONCURRENTLY {steps.ident(op.name)}"
    return Verdict(
        rule="refreshing-materialized-view", severity=Severity.ERROR, blocking=True,
        strategy=Strategy.EXPAND_CONTRACT,
        message=f"REFRESH MATERIALIZED VIEW {op.name} holds ACCESS EXCLUSIVE on it while its "
                "query runs: every read of it waits",
        fix="refresh it CONCURRENTLY (the view needs a unique index on plain columns)",
        fix_sql=sql,
        steps=(Step("expand", "refresh without blocking reads (needs a unique index)", sql),),
    )
