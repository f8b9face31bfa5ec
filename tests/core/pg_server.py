"""A throwaway PostgreSQL server for the store tests: its own cluster in a temporary folder,
reached on a Unix socket there (no TCP port taken), stopped and removed at the end.

The server binaries are looked for in ``HALGUI_PG_BIN``, then ``/usr/lib/postgresql/*/bin``
(Debian's layout, newest first), then ``PATH``. Where there are none, :func:`start` fails with
what to install: a store test on PostgreSQL is never skipped quietly. As root (CI), the server
runs as the ``postgres`` user, which PostgreSQL requires.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

#: The port only names the socket file in the private folder; no TCP port is opened.
PORT = 5432
USER = "halgui"
#: Test-only settings: nothing here needs to survive a power cut, and the tests run faster.
SETTINGS = "-c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
INSTALL_HINT = ("install the PostgreSQL server (apt-get install postgresql) or point "
                "HALGUI_PG_BIN at its bin folder")


def find_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, or None."""
    if os.environ.get("HALGUI_PG_BIN"):
        return Path(os.environ["HALGUI_PG_BIN"])
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                    else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class Server:
    """A running cluster; :meth:`new_database` gives each test its own empty database."""

    bin: Path
    root: Path
    #: the halgui user's password where the server asks for one (``start(password=...)``)
    password: str | None = None
    _numbers: itertools.count = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str, password: str | None = None) -> str:
        secret = password or self.password
        user = USER if secret is None else f"{USER}:{secret}"
        return f"postgresql://{user}@/{database}?host={self.root}&port={PORT}"

    def run(self, *args: str) -> None:
        command = " ".join([str(self.bin / args[0]), *args[1:]])
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command_line = ["su", "postgres", "-c", command]
        else:
            command_line = ["sh", "-c", command]
        done = subprocess.run(command_line, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr.strip()}")

    def new_database(self) -> str:
        """The URL of a new empty database."""
        name = f"store_{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("/")[3].split("?")[0]
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def start_server(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                 "-o", f"\"-p {PORT} -k {self.root} {SETTINGS}\"", "start")

    def restart(self) -> None:
        """``pg_ctl restart``: every session ends; the server comes back with its data."""
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-m",
                 "fast", "-w", "restart")

    def stop_server(self) -> None:
        """Stop the server, keeping its data (``start_server`` starts it again)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self.stop_server()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start(password: str | None = None) -> Server:
    """Make and start a cluster; raise RuntimeError saying what is missing where it cannot.
    With ``password`` the server asks for it (scram-sha-256) instead of trusting its socket."""
    bin_dir = find_bin()
    if bin_dir is None or not (bin_dir / "initdb").is_file():
        raise RuntimeError(f"no PostgreSQL server binaries (initdb, pg_ctl) found: {INSTALL_HINT}")
    root = Path(tempfile.mkdtemp(prefix="halgui-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            raise RuntimeError(f"running as root needs a 'postgres' user: {INSTALL_HINT}"
                               ) from None
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = Server(bin_dir, root, password)
    auth = ["-A", "trust"]
    if password is not None:
        pwfile = root / "password"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
    try:
        server.run("initdb", "-D", str(server.data), *auth, "-U", USER, "-E", "UTF8",
                   "--no-sync")
        server.start_server()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
