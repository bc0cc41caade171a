"""Production roles for tests: a table owner that is not a superuser (bluegreen runs as it)
and an app role with DML rights only. Created in the test cluster with unique names and
passwords that need care in a URL, dropped afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg import sql


@dataclass
class Roles:
    owner: str
    owner_password: str
    app: str
    app_password: str
    host: str
    port: str
    dbname: str

    def owner_url(self) -> str:
        """A URL as a user types it: the password's "@" and ":" not percent-encoded."""
        return (f"postgresql://{self.owner}:{self.owner_password}@{self.host}:{self.port}/"
                f"{self.dbname}")

    def encoded_owner_url(self) -> str:
        """The same URL with the password percent-encoded, as RFC 3986 wants it."""
        return (f"postgresql://{self.owner}:{quote(self.owner_password, safe='')}@{self.host}:"
                f"{self.port}/{self.dbname}")

    def owner_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(user=self.owner, password=self.owner_password,
                                              host=self.host, port=self.port,
                                              dbname=self.dbname)

    def app_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(user=self.app, password=self.app_password,
                                              host=self.host, port=self.port,
                                              dbname=self.dbname)

    @property
    def secrets(self) -> list[str]:
        return [self.owner_password, self.app_password]


def create_roles(admin_conninfo: str) -> Roles:
    """An owner with CREATE on the database and the public schema (what bluegreen needs),
    and an app role with USAGE on the schema only: grants on tables come from the test."""
    info = psycopg.conninfo.conninfo_to_dict(admin_conninfo)
    suffix = uuid.uuid4().hex[:8]
    roles = Roles(owner=f"bg_owner_{suffix}", owner_password=f"0wn@r:{suffix}!s3cr3t",
                  app=f"bg_app_{suffix}", app_password=f"app@{suffix}$pw",
                  host=info.get("host", "127.0.0.1"), port=str(info.get("port", "5432")),
                  dbname=info["dbname"])
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        for role, password in ((roles.owner, roles.owner_password),
                               (roles.app, roles.app_password)):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB "
                                 "NOCREATEROLE").format(sql.Identifier(role),
                                                        sql.Literal(password)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
            sql.Identifier(roles.dbname), sql.Identifier(roles.owner)))
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(
            sql.Identifier(roles.owner)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(
            sql.Identifier(roles.app)))
    return roles


def drop_roles(admin_conninfo: str, roles: Roles) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
                     "ANY(%s)", ([roles.owner, roles.app],))
        for role in (roles.app, roles.owner):
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
