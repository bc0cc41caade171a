"""Shared by the rules that look at the columns an operation creates."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops as aops

from bluegreen.planner.schema import column_info


def new_columns(op) -> list[sa.Column]:
    """The columns a CREATE TABLE or ADD COLUMN brings."""
    if isinstance(op, aops.AddColumnOp):
        return [op.column]
    return [c for c in op.columns if isinstance(c, sa.Column)]


def columns_of_type(op, type_names: set[str]) -> list[str]:
    """Names of the new columns whose normalised type is one of ``type_names``."""
    return [c.name for c in new_columns(op)
            if (info := column_info(c)).type is not None and info.type.name in type_names]
