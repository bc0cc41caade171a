"""bluegreen state: one migration record per table, and the copier's chunk checkpoints.

Revision ID: 0001
Revises:
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _upgrade_sqlite()
        return
    op.execute("""
    CREATE TABLE bluegreen.migrations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_name text NOT NULL,
        alter_sql text NOT NULL,
        shadow_table text NOT NULL,
        old_table text NOT NULL,
        queue_table text NOT NULL,
        state text NOT NULL CHECK (state IN
            ('copying', 'synced', 'cut_over', 'rolled_back', 'finished', 'aborted')),
        paused boolean NOT NULL DEFAULT false,
        backfill_done boolean NOT NULL DEFAULT false,
        indexes_built boolean NOT NULL DEFAULT false,
        rows_total bigint,
        rows_copied bigint NOT NULL DEFAULT 0,
        rows_replayed bigint NOT NULL DEFAULT 0,
        chunk_size integer,
        lock_ms double precision,
        detail jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        synced_at timestamptz,
        cut_over_at timestamptz,
        finished_at timestamptz
    )""")
    # The database, not the code, allows one active migration per table.
    op.execute("""
    CREATE UNIQUE INDEX migrations_one_active_per_table ON bluegreen.migrations (table_name)
    WHERE state IN ('copying', 'synced', 'cut_over', 'rolled_back')""")
    op.execute("""
    CREATE TABLE bluegreen.chunks (
        migration_id bigint NOT NULL REFERENCES bluegreen.migrations (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        lo jsonb,
        hi jsonb NOT NULL,
        rows_copied bigint,
        done boolean NOT NULL DEFAULT false,
        PRIMARY KEY (migration_id, seq)
    )""")


def _upgrade_sqlite() -> None:
    op.execute("""
    CREATE TABLE bluegreen_migrations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        table_name text NOT NULL,
        alter_sql text NOT NULL,
        shadow_table text NOT NULL,
        old_table text NOT NULL,
        queue_table text NOT NULL,
        state text NOT NULL CHECK (state IN
            ('copying', 'synced', 'cut_over', 'rolled_back', 'finished', 'aborted')),
        paused boolean NOT NULL DEFAULT 0,
        backfill_done boolean NOT NULL DEFAULT 0,
        indexes_built boolean NOT NULL DEFAULT 0,
        rows_total integer,
        rows_copied integer NOT NULL DEFAULT 0,
        rows_replayed integer NOT NULL DEFAULT 0,
        chunk_size integer,
        lock_ms real,
        detail text NOT NULL DEFAULT '{}',
        created_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
        updated_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
        synced_at text,
        cut_over_at text,
        finished_at text
    )""")
    op.execute("""
    CREATE UNIQUE INDEX bluegreen_one_active_per_table ON bluegreen_migrations (table_name)
    WHERE state IN ('copying', 'synced', 'cut_over', 'rolled_back')""")
    op.execute("""
    CREATE TABLE bluegreen_chunks (
        migration_id integer NOT NULL REFERENCES bluegreen_migrations (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        lo text,
        hi text NOT NULL,
        rows_copied integer,
        done boolean NOT NULL DEFAULT 0,
        PRIMARY KEY (migration_id, seq)
    )""")


def downgrade() -> None:
    op.execute("DROP TABLE bluegreen.chunks")
    op.execute("DROP TABLE bluegreen.migrations")
