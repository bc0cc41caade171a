"""Everything that differs between database engines. Core code asks for capabilities."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bluegreen.errors import BadUrl


def sqlalchemy_url(url: str) -> URL:
    """Accept libpq URLs (``postgresql://``, ``postgres://``, ``?host=/socket/dir``) and
    SQLAlchemy URLs; PostgreSQL always goes through psycopg 3."""
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    try:
        parsed = make_url(text)
    except ArgumentError as error:
        raise BadUrl(url, str(error)) from None
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() in ("mysql", "mariadb", "mssql", "oracle"):
        from bluegreen.errors import BadOption

        raise BadOption(f"{parsed.get_backend_name()} is not supported yet; bluegreen works "
                        "on PostgreSQL (postgresql://user@host:port/dbname) and SQLite "
                        "(sqlite:///path.db)")
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise BadUrl(url, f"unknown database {parsed.get_backend_name()!r}")
    return parsed


def redact(url: str) -> str:
    try:
        return sqlalchemy_url(url).render_as_string(hide_password=True)
    except BadUrl:
        return url


def connect(url: str):
    """An open SQLAlchemy connection, or DatabaseUnavailable with the driver's reason."""
    import sqlalchemy as sa

    from bluegreen.errors import DatabaseUnavailable

    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        return engine.connect()
    except sa.exc.OperationalError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(redact(url), detail) from None
    except sa.exc.ArgumentError as error:
        raise BadUrl(url, str(error)) from None


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg) takes it, from a libpq or SQLAlchemy URL."""
    parsed = sqlalchemy_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BadUrl(url, "this command needs PostgreSQL for now")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def pg_connect(url: str, application_name: str = "bluegreen"):
    """An autocommit psycopg connection, or DatabaseUnavailable with the server's reason."""
    import psycopg

    from bluegreen.errors import DatabaseUnavailable

    try:
        return psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10,
                               application_name=application_name)
    except psycopg.OperationalError as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise DatabaseUnavailable(redact(url), detail) from None
