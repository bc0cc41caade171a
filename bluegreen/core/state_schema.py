"""Create or upgrade bluegreen's state tables with Alembic (``bluegreen init``), through
bluegreen's own Alembic environment (migrations/, shipped as bluegreen._migrations)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

STATE_SCHEMA = "bluegreen"


def migrations_dir() -> Path:
    return Path(str(resources.files("bluegreen._migrations")))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def upgrade(url: Any, prepare: Callable[[Any], dict[str, Any]]) -> tuple[str | None, str]:
    """Bring the state schema to the head revision; returns (before, after). Idempotent.

    ``prepare`` is the engine's: given the SQLAlchemy connection (in the init's transaction)
    it readies the database (PostgreSQL: the schema, one init at a time) and returns the
    Alembic options that place the version table."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            opts = prepare(connection)
            before = MigrationContext.configure(connection, opts=opts).get_current_revision()
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    return before, head_revision()
