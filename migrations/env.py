"""Alembic environment for bluegreen's own state tables.

Run by ``bluegreen init`` with an open connection in ``config.attributes["connection"]``.
On PostgreSQL the tables live in schema ``bluegreen``; SQLite has no schemas, so there they
are prefixed ``bluegreen_`` in the main database.
"""

from alembic import context

connection = context.config.attributes["connection"]
sqlite = connection.dialect.name == "sqlite"
context.configure(
    connection=connection,
    version_table="bluegreen_alembic_version" if sqlite else "alembic_version",
    version_table_schema=None if sqlite else "bluegreen",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
