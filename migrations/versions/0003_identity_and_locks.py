"""bluegreen state: the identity (OID) of a migration's tables, and who holds which lock.

A table may be dropped and re-created under the same name between two commands; the OIDs
recorded when the copy starts let every later command check that it still works on the
same tables. ``locks`` describes the holder of each bluegreen advisory lock (the lock
itself is PostgreSQL's, released when the session ends; the row only says who took it).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        # SQLite has no OIDs; the columns keep the record's shape the same on every engine.
        op.execute("ALTER TABLE bluegreen_migrations ADD COLUMN live_oid integer")
        op.execute("ALTER TABLE bluegreen_migrations ADD COLUMN shadow_oid integer")
        return
    op.execute("ALTER TABLE bluegreen.migrations ADD COLUMN live_oid bigint, "
               "ADD COLUMN shadow_oid bigint")
    op.execute("""
    CREATE TABLE bluegreen.locks (
        name text PRIMARY KEY,
        pid integer NOT NULL,
        host text NOT NULL,
        backend_pid integer NOT NULL,
        since timestamptz NOT NULL DEFAULT now()
    )""")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("ALTER TABLE bluegreen_migrations DROP COLUMN shadow_oid")
        op.execute("ALTER TABLE bluegreen_migrations DROP COLUMN live_oid")
        return
    op.execute("DROP TABLE bluegreen.locks")
    op.execute("ALTER TABLE bluegreen.migrations DROP COLUMN shadow_oid, DROP COLUMN live_oid")
