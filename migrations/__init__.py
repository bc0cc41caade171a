"""bluegreen's own Alembic environment (shipped in the wheel as bluegreen._migrations)."""
