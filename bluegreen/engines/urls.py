"""Database URLs: libpq's and SQLAlchemy's forms read into one ``DbUrl``, passwords
remembered for redaction, and the connection every engine opens from them.

The parser reads URLs exactly as SQLAlchemy's ``make_url`` does (tests/engines/test_urls.py
compares the two on a corpus) without importing SQLAlchemy: every command parses its URL,
and most never need SQLAlchemy at all."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from bluegreen import redact as redaction
from bluegreen.errors import BadUrl

# SQLAlchemy's URL grammar (sqlalchemy.engine.url._parse_url).
_URL = re.compile(r"""
    (?P<name>[\w\+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/\?]+)\] |
            (?P<ipv4host>[^/:\?]+)
        )?
        (?::(?P<port>[^/\?]*))?
    )?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """, re.X)


@dataclasses.dataclass(frozen=True)
class DbUrl:
    """A parsed database URL (the fields and methods of SQLAlchemy's ``URL`` that bluegreen
    uses)."""

    drivername: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str | tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def get_backend_name(self) -> str:
        return self.drivername.split("+", 1)[0]

    def get_driver_name(self) -> str | None:
        return self.drivername.split("+", 1)[1] if "+" in self.drivername else None

    def set(self, **changes: Any) -> DbUrl:
        return dataclasses.replace(self, **changes)

    def render_as_string(self, hide_password: bool = True) -> str:
        out = self.drivername + "://"
        if self.username is not None:
            out += quote(self.username, safe=" +")
            if self.password is not None:
                out += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            out += "@"
        if self.host is not None:
            out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        if self.database is not None:
            out += "/" + quote(self.database, safe=" +/")
        if self.query:
            out += "?" + "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k in sorted(self.query)
                                  for v in self.values(k))
        return out

    def values(self, key: str) -> tuple[str, ...]:
        """Every value of a query parameter (a key may repeat)."""
        value = self.query.get(key)
        return () if value is None else value if isinstance(value, tuple) else (value,)

    def to_sqlalchemy(self) -> Any:
        """The same URL as SQLAlchemy's ``URL`` (for create_engine; loads SQLAlchemy)."""
        from sqlalchemy.engine import URL

        # PostgreSQL always through psycopg 3 (SQLAlchemy 2.0's default driver is psycopg2).
        driver = "postgresql+psycopg" if self.drivername == "postgresql" else self.drivername
        return URL.create(driver, username=self.username, password=self.password,
                          host=self.host, port=self.port, database=self.database,
                          query=dict(self.query))


def _parse(text: str) -> DbUrl:
    """``text`` as SQLAlchemy's make_url reads it; ValueError when it cannot be read."""
    match = _URL.match(text)
    if match is None:
        raise ValueError("Could not parse SQLAlchemy URL from given URL string")
    parts = match.groupdict()
    query: dict[str, str | tuple[str, ...]] = {}
    for key, value in parse_qsl(parts["query"] or ""):
        old = query.get(key)
        query[key] = value if old is None else (
            (*old, value) if isinstance(old, tuple) else (old, value))
    port = parts["port"]
    if port and not (port.isascii() and port.isdigit()):
        raise ValueError(f"invalid port {port!r}")
    return DbUrl(parts["name"],
                 username=unquote(parts["username"]) if parts["username"] is not None
                 else None,
                 password=unquote(parts["password"]) if parts["password"] is not None
                 else None,
                 host=parts["ipv4host"] or parts["ipv6host"], port=int(port) if port else None,
                 database=unquote(parts["database"]) if parts["database"] is not None
                 else None,
                 query=query)

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


@functools.cache
def _libpq_options() -> frozenset[str]:
    import psycopg

    return frozenset(d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults())


def parse(url: str) -> DbUrl:
    """Accept libpq URLs (``postgresql://``, ``postgres://``, ``?host=/socket/dir``) and
    SQLAlchemy URLs; PostgreSQL always goes through psycopg 3. Every password in the URL is
    remembered for redaction before anything can echo it."""
    text = _encode_userinfo(url.strip())
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    if _URL.match(text) is None:
        raise BadUrl(url, "Could not parse SQLAlchemy URL from given URL string")
    try:
        parsed = _parse(text)
    except ValueError:
        raise BadUrl(url, "the port must be a number, as in host:5432") from None
    redaction.remember(parsed.password)
    for key in ("password", "sslpassword", "oauth_client_secret"):
        for item in parsed.values(key):
            redaction.remember(item)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() not in (
            None, "psycopg"):
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


def sqlalchemy_url(url: str) -> Any:
    """``url`` as SQLAlchemy's URL, for create_engine (loads SQLAlchemy)."""
    return parse(url).to_sqlalchemy()


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        shown = parse(url).render_as_string(hide_password=True)
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
    parsed = parse(url)
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
