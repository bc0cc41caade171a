"""Database engines, chosen by the URL's scheme. Each engine fills the interface in
``base``; the algorithms in bluegreen.core ask an engine, never a driver."""

from __future__ import annotations

from bluegreen.engines.base import ApplyEngine

# scheme (SQLAlchemy backend name) -> module:class of its apply engine
_APPLY_ENGINES = {
    "postgresql": "bluegreen.engines.postgresql.apply:PostgresApply",
    "sqlite": "bluegreen.engines.sqlite.apply:SqliteApply",
}


def supported() -> list[str]:
    return sorted(_APPLY_ENGINES)


def apply_engine(url: str) -> ApplyEngine:
    """The engine for ``url``; an unsupported scheme says which are supported."""
    import importlib

    from bluegreen.engines import urls as dialects
    from bluegreen.errors import BadOption

    backend = dialects.sqlalchemy_url(url).get_backend_name()
    target = _APPLY_ENGINES.get(backend)
    if target is None:
        raise BadOption(f"{backend} is not supported; bluegreen works on "
                        f"{' and '.join(supported())}")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)(url)
