"""SQLite only: ADD COLUMN that SQLite refuses (non-constant default, PRIMARY KEY or UNIQUE,
NOT NULL without a default).

Problem: SQLite refuses ADD COLUMN with a non-constant default (CURRENT_TIMESTAMP, a
function), a PRIMARY KEY or UNIQUE column, and a NOT NULL column without a default; a NOT
NULL column without a default would also break blue's inserts.

Safe alternative: add it nullable or with a constant default, and fill it from the app; or
rebuild the table with `bluegreen copy TABLE --alter "CREATE TABLE ..."`.

Target: SQLite

Bad:

    ALTER TABLE users ADD COLUMN seen_at text DEFAULT CURRENT_TIMESTAMP;

Good:

    -- new rows get it from the app
    ALTER TABLE users ADD COLUMN seen_at text;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.expressions import function_names
from bluegreen.planner.model import Phase, Severity, Strategy, Verdict
from bluegreen.planner.schema import column_info

DIALECTS = ("sqlite",)
OPERATIONS = (ops.AddColumnOp,)


def check(ctx) -> Verdict | None:
    op = ctx.op
    column = column_info(op.column)
    problems = []
    if column.default is not None and (function_names(column.default) or
                                       column.default.strip().upper().startswith("CURRENT_")):
        problems.append("a non-constant default")
    if op.column.primary_key or op.column.info.get("bluegreen_unique"):
        problems.append("a PRIMARY KEY or UNIQUE constraint")
    if not column.nullable and column.default is None:
        problems.append("NOT NULL without a default")
    if not problems:
        return None
    return Verdict(
        rule="sqlite-add-column", severity=Severity.ERROR,
        phase=Phase.EXPAND if ctx.table_is_new else Phase.BREAKING,
        strategy=Strategy.SHADOW,
        message=f"SQLite cannot add {op.table_name}.{column.name} with "
                f"{' and '.join(problems)}: the statement fails",
        fix="add it nullable or with a constant default, or rebuild the table with bluegreen "
            "copy --alter \"CREATE TABLE ...\"",
    )
