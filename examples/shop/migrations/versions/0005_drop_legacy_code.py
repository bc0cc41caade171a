"""Drop customers.legacy_code (contract: only after blue is retired).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("customers", "legacy_code")


def downgrade() -> None:
    op.add_column("customers", sa.Column("legacy_code", sa.String(20)))
