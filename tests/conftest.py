"""Test fixtures. Database tests run against a real PostgreSQL: each run creates its own
database and drops it afterwards. Point them elsewhere with BLUEGREEN_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("BLUEGREEN_TEST_DATABASE_URL", DEFAULT_URL)


def _with_dbname(url: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (a libpq conninfo)."""
    url = admin_url()
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"cannot reach PostgreSQL at {url}: {str(error).strip().splitlines()[0]}. "
            "Start it, or point the tests at one with "
            "BLUEGREEN_TEST_DATABASE_URL=postgresql://user@host:port/dbname",
            pytrace=False)
    name = f"bluegreen_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_dbname(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def pg(pg_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session database, with the public schema emptied."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        yield conn


def sqlalchemy_url(conninfo: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = info.get("user", "")
    host = info.get("host", "127.0.0.1")
    port = info.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{info['dbname']}"


@pytest.fixture
def bg(pg, pg_url) -> str:
    """An initialized bluegreen state in a clean database; yields its URL."""
    from bluegreen import commands

    pg.execute("DROP SCHEMA IF EXISTS bluegreen CASCADE")
    url = sqlalchemy_url(pg_url)
    commands.init(url)
    return url
