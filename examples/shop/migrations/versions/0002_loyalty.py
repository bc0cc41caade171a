"""Loyalty points (expand: a column with a constant default, an index built concurrently).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("points", sa.Integer, nullable=False,
                                         server_default="0"))
    with op.get_context().autocommit_block():
        op.create_index("customers_points_idx", "customers", ["points"],
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index("customers_points_idx", table_name="customers")
    op.drop_column("customers", "points")
