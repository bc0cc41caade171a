"""bluegreen reads database URLs without SQLAlchemy (start-up): the reading must be
SQLAlchemy's, field for field, and render back the same string."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from bluegreen.engines import urls
from bluegreen.errors import BadUrl

CORPUS = [
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://u:secret@db.example.com/app",
    "postgresql+psycopg2://u:secret@db.example.com/app",
    "postgresql://u:p%40ss%3Aword@host:6543/my%20db",
    "postgresql://u:p@ss@host/db",  # an unencoded @ in the password
    "postgresql:///app?host=/var/run/postgresql",
    "postgresql://u@/app?host=/tmp&port=5433",
    "postgresql://u@[::1]:5432/app",
    "postgresql://u@host/app?sslmode=require&options=-c%20statement_timeout%3D5",
    "postgresql://u@host/app?host=a&host=b",
    "postgresql://host",
    "postgresql://u:@host/db",
    "postgres://u:pw@host/db",
    "sqlite:///relative/path.db",
    "sqlite:////abs/path/app.db",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///with%20space.db",
]


@pytest.mark.parametrize("text", CORPUS)
def test_urls_read_as_sqlalchemy_reads_them(text):
    ours = urls.parse(text)
    theirs = make_url(urls._encode_userinfo(text).replace("postgres://", "postgresql://", 1))
    if theirs.drivername.startswith("postgresql+"):
        theirs = theirs.set(drivername="postgresql+psycopg")
    for field in ("drivername", "username", "password", "host", "port", "database"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert {k: ours.values(k) for k in ours.query} == {
        k: tuple(theirs.query[k]) if isinstance(theirs.query[k], tuple)
        else (theirs.query[k],) for k in theirs.query}
    for hide in (True, False):
        assert ours.render_as_string(hide) == theirs.render_as_string(hide)
    assert ours.to_sqlalchemy() == (theirs.set(drivername="postgresql+psycopg")
                                    if theirs.drivername == "postgresql" else theirs)


@pytest.mark.parametrize("text, reason", [
    ("postgresql://u@host:notaport/db", "the port must be a number"),
    ("postgresql://u@host:5432x/db", "the port must be a number"),
    ("not a url", "Could not parse"),
    ("oracle2://u@h/db", "unknown database"),
    ("postgresql://u@h/db?nosuchoption=1", "unknown connection parameter 'nosuchoption'"),
])
def test_bad_urls_are_refused_with_the_reason(text, reason):
    with pytest.raises(BadUrl, match=reason):
        urls.parse(text)


def test_a_password_never_shows_in_the_redacted_url():
    shown = urls.redact("postgresql://app:s3cr%21t@db/prod?sslpassword=k3y")
    assert "s3cr" not in shown and "k3y" not in shown and "app" in shown
