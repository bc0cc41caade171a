"""The migration apply runs: SQL files and Alembic revisions, in order, each a revision
with an identity (its Alembic id, or its path) and a content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bluegreen.errors import BadOption, InputNotFound
from bluegreen.planner import ops


@dataclass
class Revision:
    """One unit of a migration: an Alembic revision or one SQL file."""

    key: str  # "alembic:<id>" or "sql:<path>": how bluegreen's state names it
    source: str  # the path as shown to the user
    path: Path
    content_hash: str
    alembic_revision: str | None = None
    versions_dir: Path | None = None
    statements: list[ops.Statement] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.alembic_revision or self.source


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_revisions(paths: Sequence[str | Path], *, from_rev: str | None = None,
                   to_rev: str | None = None, extra_keywords: bool = False) -> list[Revision]:
    """Every revision of the given SQL files, Alembic revision files and versions
    directories, in order; their statements parsed (nothing touches a database)."""
    from bluegreen.planner.sources import alembic as alembic_source

    out: list[Revision] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputNotFound(str(raw))
        if path.is_dir() and not any(path.glob("*.py")) and any(path.glob("*.sql")):
            # A folder of SQL files (Flyway, Sqitch, golang-migrate...): one revision each,
            # in file-name order.
            if from_rev or to_rev:
                raise BadOption(f"{raw}: --from/--to select Alembic revisions; name the SQL "
                                "files to run instead")
            out += [_sql_revision(file, extra_keywords) for file in sorted(path.glob("*.sql"))]
        elif path.is_dir():
            files = alembic_source.revision_files(path, from_rev, to_rev)
            if not files:
                raise BadOption(f"{raw}: no Alembic revisions found; pass a versions "
                                "directory or check --from/--to")
            out += [_alembic_revision(file, path) for file in files]
        elif path.suffix == ".py":
            out.append(_alembic_revision(path, path.parent))
        else:
            out.append(_sql_revision(path, extra_keywords))
    seen: set[str] = set()
    for revision in out:
        if revision.key in seen:
            raise BadOption(f"{revision.source}: given twice; name each revision once")
        seen.add(revision.key)
    return out


def _sql_revision(path: Path, extra_keywords: bool) -> Revision:
    from bluegreen.core.apply.sqltext import sqlite_text
    from bluegreen.planner.sources import alembic as alembic_source
    from bluegreen.planner.sources.sql import parse_sql

    source = alembic_source.display_path(path)
    text = read_text(path)
    return Revision(key=f"sql:{source}", source=source, path=path,
                    content_hash=content_hash(path),
                    statements=parse_sql(sqlite_text(text) if extra_keywords else text, source))


def read_text(path: Path) -> str:
    """A migration file's text; BadOption (one line) when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadOption(f"{path}: not UTF-8 text; pass a .sql file or a .py revision") from None
    except OSError as error:
        raise BadOption(f"{path}: cannot read it ({error.strerror})") from None


def _alembic_revision(path: Path, versions_dir: Path) -> Revision:
    from bluegreen.planner.sources import alembic as alembic_source

    module = alembic_source.load_revision(path)
    revision_id = getattr(module, "revision", None)
    source = alembic_source.display_path(path)
    if not isinstance(revision_id, str):
        raise BadOption(f"{source}: no `revision = \"...\"` id; is it an Alembic revision?")
    return Revision(key=f"alembic:{revision_id}", source=source, path=path,
                    content_hash=content_hash(path), alembic_revision=revision_id,
                    versions_dir=versions_dir,
                    statements=alembic_source.record_upgrade(module, path))
