"""bluegreen apply: the revisions of a migration and their recorded steps.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One row per revision (an Alembic revision or a SQL file); its expand and contract phases
# move pending -> running -> done, and expand may go back to reverted.
_REVISIONS = """
CREATE TABLE {prefix}apply_revisions (
    id {id_type},
    revision_key text NOT NULL UNIQUE,
    source text NOT NULL,
    alembic_revision text,
    content_hash text NOT NULL,
    expand_state text NOT NULL DEFAULT 'pending' CHECK (expand_state IN
        ('pending', 'running', 'done', 'reverted')),
    contract_state text NOT NULL DEFAULT 'pending' CHECK (contract_state IN
        ('pending', 'running', 'done')),
    detail {json_type} NOT NULL DEFAULT '{{}}',
    created_at {time_type} NOT NULL DEFAULT {now},
    expand_done_at {time_type},
    contract_done_at {time_type}
)"""

# One row per step: the exact SQL it runs (what --dry-run prints), the SQL that undoes it,
# its status and what it cost.
_STEPS = """
CREATE TABLE {prefix}apply_steps (
    revision_id {fk_type} NOT NULL REFERENCES {prefix}apply_revisions (id) ON DELETE CASCADE,
    phase text NOT NULL CHECK (phase IN ('expand', 'contract')),
    seq integer NOT NULL,
    kind text NOT NULL,
    description text NOT NULL,
    sql text NOT NULL,
    inverse text,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'running', 'done', 'failed', 'reverted')),
    started_at {time_type},
    finished_at {time_type},
    rows_touched bigint NOT NULL DEFAULT 0,
    lock_wait_ms double precision NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    checkpoint {json_type},
    detail {json_type} NOT NULL DEFAULT '{{}}',
    error text,
    PRIMARY KEY (revision_id, phase, seq)
)"""

_SQLITE_LOCK = """
CREATE TABLE bluegreen_apply_lock (
    id integer PRIMARY KEY CHECK (id = 1),
    pid integer NOT NULL,
    host text NOT NULL,
    since text NOT NULL
)"""


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        values = dict(prefix="bluegreen_", id_type="INTEGER PRIMARY KEY AUTOINCREMENT",
                      fk_type="integer", json_type="text", time_type="text",
                      now="(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))")
        op.execute(_REVISIONS.format(**values))
        op.execute(_STEPS.format(**values))
        op.execute(_SQLITE_LOCK)
        return
    values = dict(prefix="bluegreen.", id_type="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                  fk_type="bigint", json_type="jsonb", time_type="timestamptz", now="now()")
    op.execute(_REVISIONS.format(**values))
    op.execute(_STEPS.format(**values))


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for table in ("bluegreen_apply_lock", "bluegreen_apply_steps",
                      "bluegreen_apply_revisions"):
            op.execute(f"DROP TABLE {table}")
        return
    op.execute("DROP TABLE bluegreen.apply_steps")
    op.execute("DROP TABLE bluegreen.apply_revisions")
