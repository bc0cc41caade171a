"""Widen orders.total_cents to bigint (blocking: a rewrite; bluegreen copies the table
into a shadow and switches with a rename).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("orders", "total_cents", type_=sa.BigInteger,
                    existing_type=sa.Integer)


def downgrade() -> None:
    op.alter_column("orders", "total_cents", type_=sa.Integer, existing_type=sa.BigInteger)
