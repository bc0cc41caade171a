"""Shared by the rules that look at the columns an operation creates."""

from __future__ import annotations

from bluegreen.planner import ops


def new_columns(op: ops.CreateTableOp | ops.AddColumnOp) -> list[ops.Column]:
    """The columns a CREATE TABLE or ADD COLUMN brings."""
    if isinstance(op, ops.AddColumnOp):
        return [op.column]
    return [c for c in op.columns if isinstance(c, ops.Column)]


def columns_of_type(op: ops.CreateTableOp | ops.AddColumnOp, type_names: set[str]) -> list[str]:
    """Names of the new columns whose normalised type is one of ``type_names``."""
    return [c.name for c in new_columns(op) if c.type is not None and c.type.name in type_names]
