"""The issuer under test, driven through its own CLI: preflight, a database of its own, the
bench user and clients per alg, and `issuer serve` pinned to the server's CPUs."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import AUDIENCE, CODE_SCOPE, REDIRECT_URI, REPO, SCOPE, BenchError, log
from bench.loopback import CodeClient, basic, token_response, wait_http_ok
from bench.options import Options
from bench.processes import PROCS, free_port, run

__all__ = ["Issuer"]


class Issuer:
    def __init__(self, opts: Options, tmp: Path) -> None:
        self.opts, self.tmp = opts, tmp
        exe = Path(opts.python).parent / "issuer"
        self.cmd = [str(exe)] if exe.exists() else [opts.python, "-m", "issuer"]
        self.db_name: str | None = None
        self.db_url = ""
        self.clients: dict[str, tuple[str, str]] = {}  # "cc-<alg>" / "login-<alg>" -> id, secret
        self.code_clients: dict[str, CodeClient] = {}  # alg -> the code flow's public client
        self.code_missing = ""  # why there is none (the CLI refused it), for the table
        self.email = f"bench-{secrets.token_hex(4)}@bench.invalid"
        self.password = secrets.token_urlsafe(18)

    # -- environment and CLI
    def env(self, alg: str | None = None, port: int | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "ISSUER_DATABASE_URL": self.db_url,
            "ISSUER_KEYS_DIR": str(self.tmp / "keys"),
        }
        if alg:
            env["ISSUER_DEFAULT_ALG"] = alg
        if port:
            env["ISSUER_URL"] = f"http://127.0.0.1:{port}"
        return env

    def cli(self, *argv: str, input_text: str | None = None, timeout: float = 120) -> str:
        cp = run(
            [*self.cmd, *argv], env=self.env(), input_text=input_text, timeout=timeout, cwd=REPO
        )
        if cp.returncode != 0:
            msg = (cp.stderr.strip() or cp.stdout.strip()).splitlines()[-5:]
            raise BenchError(
                f"`issuer {' '.join(argv[:3])}` failed (rc={cp.returncode}):\n    "
                + "\n    ".join(msg)
            )
        return cp.stdout

    def preflight(self) -> None:
        missing = []
        for sub in (
            ["--help"],
            ["migrate", "--help"],
            ["serve", "--help"],
            ["users", "create", "--help"],
            ["clients", "create", "--help"],
        ):
            cp = run([*self.cmd, *sub], env={**os.environ}, timeout=60, cwd=REPO)
            if cp.returncode != 0:
                why = (cp.stderr.strip() or cp.stdout.strip()).splitlines()[-1:] or ["no output"]
                missing.append(f"`issuer {' '.join(sub)}`: {why[0]}")
                if sub == ["--help"]:
                    break
        if missing:
            raise BenchError(
                "the issuer CLI is not available yet, so the issuer scenarios cannot run:\n  "
                + "\n  ".join(missing)
                + "\n(install it with `pip install -e '.[server]'`; `bench/run --peer-only` "
                "measures the limits and the peer alone)"
            )

    # -- database
    def create_db(self) -> None:
        o = self.opts
        if o.sqlite:
            self.db_url = f"sqlite+aiosqlite:///{self.tmp / 'bench.db'}"
            log("database: SQLite file in a temporary directory")
            return
        name = f"issuer_bench_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        self._psql(f'CREATE DATABASE "{name}"')
        self.db_name = name
        self.db_url = f"postgresql+asyncpg://{o.pg_user}@{o.pg_host}:{o.pg_port}/{name}"
        log(f"database: Postgres {o.pg_host}:{o.pg_port}/{name}")

    def drop_db(self) -> None:
        if self.db_name:
            try:
                self._psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                log(f"dropped database {self.db_name}")
            except BenchError as exc:
                log(f"could not drop database {self.db_name}: {exc}")
            self.db_name = None

    def _psql(self, sql: str) -> None:
        o = self.opts
        if not shutil.which("psql"):
            raise BenchError("psql not found (apt-get install postgresql-client), or use --sqlite")
        cp = run(
            [
                "psql",
                "-h",
                o.pg_host,
                "-p",
                str(o.pg_port),
                "-U",
                o.pg_user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ],
            timeout=60,
        )
        if cp.returncode != 0:
            raise BenchError(
                f"Postgres at {o.pg_host}:{o.pg_port} (user {o.pg_user}) refused "
                f"`{sql}`: {cp.stderr.strip()[-300:]} (use --sqlite to skip Postgres)"
            )

    # -- fixtures
    def setup(self) -> None:
        log("issuer migrate")
        self.cli("migrate", timeout=300)
        log(f"issuer users create {self.email}")
        self.cli(
            "users",
            "create",
            self.email,
            "--role",
            "user",
            "--password-stdin",
            "--json",
            input_text=self.password + "\n",
        )
        for alg in self.opts.algs:
            a = alg.lower()
            self.clients[f"cc-{alg}"] = self._client(f"bench-cc-{a}", alg, ["client_credentials"])
            self.clients[f"login-{alg}"] = self._client(
                f"bench-login-{a}", alg, ["password", "refresh_token"]
            )
            if "code" in self.opts.scenarios:
                self._code_client(f"bench-code-{a}", alg)

    def _code_client(self, cid: str, alg: str) -> None:
        """The code flow's public client: its redirect URI, no consent asked (the default), no
        refresh token (as the peer's, asked without offline_access), the ID token signed with
        the same alg as the access token."""
        try:
            self._client(
                cid,
                alg,
                ["authorization_code"],
                "--public",
                "--redirect-uri",
                REDIRECT_URI,
                "--id-token-alg",
                alg,
            )
        except BenchError as exc:
            self.code_missing = "no code-flow client: " + " ".join(str(exc).split())
            return
        login = {"email": self.email, "username": self.email, "password": self.password}
        self.code_clients[alg] = CodeClient(cid, REDIRECT_URI, CODE_SCOPE, login)

    def _client(self, cid: str, alg: str, grants: list[str], *more: str) -> tuple[str, str]:
        argv = ["clients", "create", cid]
        for g in grants:
            argv += ["--grant-type", g]
        argv += ["--audience", AUDIENCE, "--scope", SCOPE, "--alg", alg, *more, "--json"]
        out = self.cli(*argv)
        try:
            doc = json.loads(out.strip().splitlines()[-1])
            return str(doc["client_id"]), str(doc.get("client_secret") or "")
        except (ValueError, KeyError, IndexError) as exc:
            raise BenchError(
                f"`issuer clients create --json` printed no "
                f"{{client_id, client_secret}}: {out[-300:]!r}"
            ) from exc

    def auth(self, client: str) -> str:
        """The Basic header of a bench client ("cc-<alg>" or "login-<alg>")."""
        return basic(*self.clients[client])

    # -- one server
    @contextlib.contextmanager
    def serve(self, alg: str, workers: int) -> Iterator[str]:
        """`issuer serve` on a free port until the block ends; yields its base URL."""
        port = free_port()
        logfile = self.tmp / f"issuer-{alg}-w{workers}.log"
        cmd = [
            "taskset",
            "-c",
            self.opts.server_cpus,
            *self.cmd,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        log(
            f"ISSUER_DEFAULT_ALG={alg} taskset -c {self.opts.server_cpus} issuer serve "
            f"--port {port} --workers {workers}"
        )
        proc = PROCS.start(cmd, env=self.env(alg, port), cwd=REPO, logfile=logfile)
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_http_ok(base + "/readyz", proc, logfile, "issuer serve", 90)
            except BenchError:
                wait_http_ok(base + "/healthz", proc, logfile, "issuer serve", 5)
            yield base
        finally:
            PROCS.stop(proc)

    def login_form(self) -> dict[str, str]:
        """The password grant's form for the bench user."""
        return {
            "grant_type": "password",
            "username": self.email,
            "password": self.password,
            "scope": SCOPE,
        }

    def login(self, token_url: str, alg: str) -> dict[str, Any]:
        """One password-grant login of the bench user: the token response."""
        return token_response(token_url, self.auth(f"login-{alg}"), self.login_form())
