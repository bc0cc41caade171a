"""Standard Alembic environment for the shop example."""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # DDL gives way to the app instead of queueing it: a lock wait fails fast, and the
    # deploy retries (bluegreen plan reads this line as "lock_timeout is set"). Set for the
    # session at connect, so that no transaction is open before Alembic begins its own.
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
        poolclass=pool.NullPool, connect_args={"options": "-c lock_timeout=2s"})
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
