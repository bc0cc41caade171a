"""Dropping a primary key, unique or exclusion constraint (known from the schema, else from
PostgreSQL's default names: ``_pkey``, ``_key``, ``_excl``).

Problem: blue may rely on it: ON CONFLICT clauses name it, and code assumes uniqueness.
(Dropping a CHECK or foreign key only relaxes what is accepted, which is an expand change.)

Safe alternative: a contract step once blue is retired.

Bad:

    -- in the release whose app stops relying on it: blue still does
    ALTER TABLE users DROP CONSTRAINT users_email_key;

Good (contract phase):

    -- once blue is retired: bluegreen apply --phase contract
    ALTER TABLE users DROP CONSTRAINT users_email_key;
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Phase, Severity, Verdict

# SQLite has its own rules for these (sqlite_*.py).
DIALECTS = ("postgresql",)
OPERATIONS = (ops.DropConstraintOp,)


def check(ctx) -> Verdict | None:
    table = ctx.table
    name = ctx.op.constraint_name.lower()
    constraint = table.constraints.get(name) if table else None
    kind = constraint.kind if constraint else (ctx.op.constraint_type or _by_name(name))
    if ctx.table_is_new or kind not in ("primary", "unique", "exclude", "primary_key"):
        return None
    return Verdict(
        rule="dropping-constraint", severity=Severity.WARNING, phase=Phase.CONTRACT,
        message=f"dropping the {kind} constraint {name} on {ctx.op.table_name} removes a "
                "guarantee blue may rely on (ON CONFLICT, uniqueness)",
        fix="run it in the contract phase, after blue is retired",
    )


def _by_name(name: str) -> str:
    """The kind PostgreSQL's default names give away (table_col_key, table_pkey, ...), for a
    constraint the schema does not know."""
    if name.endswith("_pkey"):
        return "primary"
    if name.endswith("_key"):
        return "unique"
    if name.endswith("_excl"):
        return "exclude"
    return ""
