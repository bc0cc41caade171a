"""Database engines, chosen by the URL's scheme. Each engine fills the interface in
``base`` (``Engine``); the algorithms in bluegreen.core ask an engine, never a driver.

A new engine is a folder here with the same file names for the same roles as
engines/postgresql and engines/sqlite, and one line in ``_ENGINES`` (see CONTRIBUTING.md).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from bluegreen.engines.base import ApplyEngine, Engine

# URL scheme (SQLAlchemy's backend name) -> the engine's package
_ENGINES = {
    "postgresql": "bluegreen.engines.postgresql.engine",
    "sqlite": "bluegreen.engines.sqlite.engine",
}
_CLASSES = {"postgresql": "PostgresEngine", "sqlite": "SqliteEngine"}


def supported() -> list[str]:
    return sorted(_ENGINES)


def backend(url: str) -> str:
    """The engine name for ``url``; an unsupported scheme says which are supported."""
    from bluegreen.engines import urls
    from bluegreen.errors import BadOption

    name = urls.parse(url).get_backend_name()
    if name not in _ENGINES:
        raise BadOption(f"{name} is not supported; bluegreen works on "
                        f"{' and '.join(supported())}")
    return name


def _module(url: str) -> tuple[str, ModuleType]:
    name = backend(url)
    return name, importlib.import_module(_ENGINES[name])


def open(url: str, application: str = "bluegreen") -> Engine:  # noqa: A001
    """The engine for ``url``, connected (use it as a context manager)."""
    name, module = _module(url)
    engine: Any = getattr(module, _CLASSES[name])(url, application)
    return engine


def init_state(url: str) -> tuple[str | None, str]:
    """Create or upgrade bluegreen's state tables; returns (revision before, after)."""
    from bluegreen.core.state import STATE_HEAD

    _, module = _module(url)
    current = module.state_revision(url)
    if current == STATE_HEAD:  # up to date: nothing for Alembic to do, so do not load it
        return current, current
    return module.init_state(url)


def apply_engine(url: str) -> ApplyEngine:
    """The engine's side of bluegreen apply and revert, connected (its close() closes the
    engine too)."""
    engine = open(url, "bluegreen-apply")
    try:
        return engine.apply()
    except BaseException:
        engine.close()
        raise
