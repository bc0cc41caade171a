"""Alembic environment for bluegreen's own state tables (schema ``bluegreen``).

Run by ``bluegreen init`` with an open connection in ``config.attributes["connection"]``.
"""

from alembic import context

STATE_SCHEMA = "bluegreen"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table="alembic_version",
    version_table_schema=STATE_SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
