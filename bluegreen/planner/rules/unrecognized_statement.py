"""A statement bluegreen has no rule for (reported, never passed silently).

Problem: bluegreen cannot say whether it is safe, so it does not pass it silently.

Safe alternative: review it by hand, then mark it with ``-- bluegreen: ignore
unrecognized-statement``.

Bad:

    ALTER SYSTEM SET work_mem = '64MB';

Good:

    SET work_mem = '64MB';
"""

from __future__ import annotations

from bluegreen.planner import ops
from bluegreen.planner.model import Severity, Verdict

OPERATIONS = (ops.OtherStatementOp,)

# Statements that never lock an app table for long nor change what blue sees.
HARMLESS = {
    "CreateSeqStmt", "AlterSeqStmt", "CreateFunctionStmt", "CommentStmt", "GrantStmt",
    "CreateExtensionStmt", "CreateSchemaStmt", "AlterOwnerStmt", "SelectStmt",
    "VariableShowStmt", "AlterDefaultPrivilegesStmt", "CreateTrigStmt", "ANALYZE", "VACUUM",
    "ALTER TABLE ChangeOwner", "ALTER TABLE ReplicaIdentity", "ALTER TABLE SetStatistics",
    "ALTER TABLE AddIdentity", "ALTER TABLE SetIdentity", "ALTER TABLE EnableTrig",
    "ALTER TABLE DisableTrig", "ALTER TABLE EnableRowSecurity", "ALTER TABLE SetRelOptions",
    "RENAME TABCONSTRAINT", "RENAME SEQUENCE", "CreatePolicyStmt", "CreateRoleStmt",
    "GrantRoleStmt", "AlterObjectSchemaStmt", "CreateDomainStmt", "ALTER SEQUENCE",
    "ALTER INDEX", "SAVEPOINT", "RELEASE", "ROLLBACK_TO", "CreateStatsStmt", "NotifyStmt",
    "DO",  # a DO block that only reads and branches: what it changes is judged op by op
}


def check(ctx) -> Verdict | None:
    kind = ctx.op.kind
    if kind in HARMLESS:
        return None
    return Verdict(
        rule="unrecognized-statement", severity=Severity.WARNING,
        message=f"bluegreen has no rule for {kind} statements and cannot judge this one",
        fix="review it by hand, then add `-- bluegreen: ignore unrecognized-statement`",
    )
