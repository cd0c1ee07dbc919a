"""A real PgBouncer in transaction pooling mode in front of the test Postgres.

`tests/run` installs Debian's `pgbouncer` when it is missing; the suite never skips it. It
listens on a free loopback port with a small server pool, so that the issuer's client
connections really do share server connections transaction by transaction (a named
prepared statement then collides or goes missing, as it does in production).
PgBouncer refuses to run as root: as root it runs as the `postgres` user, its files in a
directory of that user's.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["TRANSACTION_POOLED", "PgBouncer", "PgBouncerUnavailable", "pooling_of"]

# Every URL that points through a test PgBouncer: settings made for one use
# ISSUER_DATABASE_POOLING=transaction (`tests.conftest.make_settings`).
TRANSACTION_POOLED: set[str] = set()
# Fewer server connections than the issuer's pools hold client connections.
SERVER_POOL_SIZE = 3


def pooling_of(database_url: str) -> str:
    return "transaction" if database_url in TRANSACTION_POOLED else "session"


class PgBouncerUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """One pgbouncer process forwarding every database name to `server_url`'s server."""

    def __init__(self, server_url: str) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise PgBouncerUnavailable(
                "pgbouncer is not installed: tests/run installs it (apt-get install pgbouncer)"
            )
        server = make_url(server_url)
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="issuer-pgbouncer-"))
        user = server.username or "postgres"
        target = f"host={server.host or '127.0.0.1'} port={server.port or 5432}"
        if server.password:
            target += f" password={server.password}"
        (self.directory / "userlist.txt").write_text(f'"{user}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = {target}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {SERVER_POOL_SIZE}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
            f"pidfile = {self.directory / 'pgbouncer.pid'}\n"
        )
        run_as: dict[str, int] = {}
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.directory, *self.directory.iterdir()):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            run_as = {"user": postgres.pw_uid, "group": postgres.pw_gid}
        self.process = subprocess.Popen(
            [binary, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **run_as,  # type: ignore[arg-type]
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PgBouncerUnavailable(f"pgbouncer exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise PgBouncerUnavailable(f"pgbouncer is not listening: {self.log()}")

    def log(self) -> str:
        output = b""
        if self.process.poll() is not None and self.process.stdout is not None:
            output = self.process.stdout.read()
        logfile = self.directory / "pgbouncer.log"
        return output.decode(errors="replace") + (
            logfile.read_text(errors="replace") if logfile.exists() else ""
        )

    def url_for(self, database_url: str) -> str:
        """`database_url`'s database, reached through this PgBouncer."""
        through = make_url(database_url).set(host="127.0.0.1", port=self.port)
        url = through.render_as_string(hide_password=False)
        TRANSACTION_POOLED.add(url)
        return url

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
