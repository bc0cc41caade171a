"""Which table lock each operation takes in PostgreSQL (the strongest one, on the table
being changed)."""

from __future__ import annotations

from alembic.operations import ops as aops
from alembic.operations.ops import MigrateOperation

from bluegreen.planner import ops

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"

_ORDER = [None, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE,
          ACCESS_EXCLUSIVE]


def strongest(a: str | None, b: str | None) -> str | None:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


def lock_for(op: MigrateOperation) -> str | None:
    concurrently = bool(getattr(op, "kw", {}).get("postgresql_concurrently"))
    if isinstance(op, aops.CreateIndexOp):
        return SHARE_UPDATE_EXCLUSIVE if concurrently else SHARE
    if isinstance(op, aops.DropIndexOp):
        return SHARE_UPDATE_EXCLUSIVE if concurrently else ACCESS_EXCLUSIVE
    if isinstance(op, aops.CreateForeignKeyOp):
        return SHARE_ROW_EXCLUSIVE
    if isinstance(op, ops.ValidateConstraintOp):
        return SHARE_UPDATE_EXCLUSIVE
    if isinstance(op, ops.DataChangeOp):
        return ACCESS_EXCLUSIVE if op.kind == "truncate" else ROW_EXCLUSIVE
    if isinstance(op, ops.ReindexOp):
        return SHARE_UPDATE_EXCLUSIVE if op.concurrently else ACCESS_EXCLUSIVE
    if isinstance(op, (aops.AddColumnOp, aops.DropColumnOp, aops.AlterColumnOp,
                       aops.RenameTableOp, aops.DropTableOp, aops.AddConstraintOp,
                       aops.DropConstraintOp, ops.RewriteTableOp)):
        return ACCESS_EXCLUSIVE
    return None
