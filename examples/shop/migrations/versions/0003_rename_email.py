"""Rename customers.email to contact_email (breaking: bluegreen plan writes out the
expand / migrate / contract steps that make it safe).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("customers", "email", new_column_name="contact_email")


def downgrade() -> None:
    op.alter_column("customers", "contact_email", new_column_name="email")
