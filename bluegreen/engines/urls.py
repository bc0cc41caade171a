"""Everything that differs between database engines. Core code asks for capabilities."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bluegreen import redact as redaction
from bluegreen.errors import BadUrl

_NETLOC = re.compile(r"^(?P<scheme>[a-zA-Z][\w+.\-]*://)(?P<netloc>[^/?#]*)(?P<rest>.*)$", re.S)


def _encode_userinfo(text: str) -> str:
    """``postgresql://user:p@ss@host/db``: libpq and SQLAlchemy split at the first ``@``, so
    the password would be ``p`` and the host ``ss@host``; the user meant the last ``@`` (as
    urllib reads it). Percent-encode the user and password so every parser agrees."""
    match = _NETLOC.match(text)
    if not match or match.group("netloc").count("@") < 2:
        return text
    userinfo, _, hostport = match.group("netloc").rpartition("@")
    user, colon, password = userinfo.partition(":")
    return (match.group("scheme") + quote(unquote(user), safe="") + colon
            + quote(unquote(password), safe="") + "@" + hostport + match.group("rest"))


def _libpq_options() -> set[str]:
    import psycopg

    return {d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults()}


def sqlalchemy_url(url: str) -> URL:
    """Accept libpq URLs (``postgresql://``, ``postgres://``, ``?host=/socket/dir``) and
    SQLAlchemy URLs; PostgreSQL always goes through psycopg 3. Every password in the URL is
    remembered for redaction before anything can echo it."""
    text = _encode_userinfo(url.strip())
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    try:
        parsed = make_url(text)
    except ArgumentError as error:
        raise BadUrl(url, str(error)) from None
    except ValueError:
        # make_url reads the port with int(): ":notaport", ":5432x".
        raise BadUrl(url, "the port must be a number, as in host:5432") from None
    redaction.remember(parsed.password)
    for key in ("password", "sslpassword", "oauth_client_secret"):
        value = parsed.query.get(key)
        for item in (value if isinstance(value, tuple) else [value]):
            redaction.remember(item)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() in ("mysql", "mariadb", "mssql", "oracle"):
        from bluegreen.errors import BadOption

        raise BadOption(f"{parsed.get_backend_name()} is not supported yet; bluegreen works "
                        "on PostgreSQL (postgresql://user@host:port/dbname) and SQLite "
                        "(sqlite:///path.db)")
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise BadUrl(url, f"unknown database {parsed.get_backend_name()!r}")
    if parsed.get_backend_name() == "postgresql":
        unknown = sorted(set(parsed.query) - _libpq_options())
        if unknown:
            raise BadUrl(url, f"unknown connection parameter {unknown[0]!r}; see libpq's "
                              "list of parameter keywords")
    return parsed


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        shown = sqlalchemy_url(url).render_as_string(hide_password=True)
    except BadUrl:
        shown = url
    return redaction.redact(shown)


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
    except psycopg.ProgrammingError as error:  # a malformed conninfo the URL parser let by
        raise BadUrl(url, str(error).strip().splitlines()[0]) from None
