"""SQLite: the embedded default, no server needed."""
