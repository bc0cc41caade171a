"""A real streaming replica for tests: a private primary (initdb) and a replica made from it
with pg_basebackup -R, each a postmaster on a free port in a temporary directory, stopped
and removed afterwards.

The shared test server is not used as the primary: replication needs its own pg_hba entry,
which a test should not add to a server others use. PostgreSQL refuses to run as root; as
root, every server command runs as the ``postgres`` user (runuser)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg


class ReplicaUnavailable(Exception):
    """The replica could not be started; the message says why and what to install."""


def server_bindir() -> str:
    """Where initdb, pg_ctl and pg_basebackup are: pg_config's, else the newest Debian one."""
    found = shutil.which("pg_config")
    if found:
        bindir = subprocess.run([found, "--bindir"], capture_output=True, text=True
                                ).stdout.strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        raise ReplicaUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) found: install the "
            "server package (Debian: postgresql-15) or put pg_config on PATH")
    return os.path.dirname(candidates[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Pair:
    primary_url: str
    replica_conninfo: str


class _Servers:
    def __init__(self) -> None:
        self.bindir = server_bindir()
        self.root = tempfile.mkdtemp(prefix="bluegreen-replica-")
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ReplicaUnavailable("running as root, and there is no postgres user to "
                                         "run the test servers as") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.started: list[str] = []

    def run(self, *args: str, timeout: float = 120) -> str:
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                cwd=self.root)
        if result.returncode != 0:
            raise ReplicaUnavailable(f"{' '.join(args[:2])} failed: "
                                     f"{(result.stderr or result.stdout).strip()[-800:]}")
        return result.stdout

    def start(self, datadir: str, port: int, extra: str) -> None:
        with open(os.path.join(datadir, "postgresql.auto.conf"), "a") as conf:
            conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\n{extra}\n")
        log = os.path.join(self.root, f"{os.path.basename(datadir)}.log")
        try:
            self.run("pg_ctl", "-D", datadir, "-l", log, "-w", "-t", "60", "start")
        except ReplicaUnavailable as error:
            tail = open(log).read()[-800:] if os.path.exists(log) else ""
            raise ReplicaUnavailable(f"{error}; log: {tail}") from None
        self.started.append(datadir)

    def stop(self) -> None:
        for datadir in reversed(self.started):
            try:
                self.run("pg_ctl", "-D", datadir, "-m", "immediate", "-w", "stop", timeout=60)
            except (ReplicaUnavailable, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def streaming_pair() -> Iterator[Pair]:
    """A primary and a streaming replica that reports its replay position every second."""
    servers = _Servers()
    try:
        primary, replica = (os.path.join(servers.root, n) for n in ("primary", "replica"))
        primary_port, replica_port = free_port(), free_port()
        servers.run("initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync")
        servers.start(primary, primary_port, "wal_level = replica\nmax_wal_senders = 5\n"
                                             "fsync = off")
        servers.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U",
                    "postgres", "-D", replica, "-R", "-X", "stream", "--no-sync")
        servers.start(replica, replica_port, "hot_standby = on\n"
                                             "wal_receiver_status_interval = '1s'")
        primary_url = f"postgresql://postgres@127.0.0.1:{primary_port}/postgres"
        deadline = time.monotonic() + 60
        with psycopg.connect(primary_url, autocommit=True) as conn:
            while not conn.execute("SELECT count(*) FROM pg_stat_replication WHERE state = "
                                   "'streaming'").fetchone()[0]:
                if time.monotonic() > deadline:
                    raise ReplicaUnavailable("the replica never started streaming")
                time.sleep(0.2)
        yield Pair(primary_url, f"host=127.0.0.1 port={replica_port} user=postgres "
                                "dbname=postgres")
    finally:
        servers.stop()
