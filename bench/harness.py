"""issuer benchmark harness: limits, the peer and the issuer in one run (entry point: bench/run).

Server under test on CPU 0 (taskset), wrk on CPU 1, loopback only, every step bounded in time,
everything started is stopped on exit. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "lua" / "bench.lua"
PEER_DIR = HERE / ".peer"
PEER_SRC = REPO.parent / "shared" / "peer"  # ../shared/peer from the repo root
RESULTS = HERE / "results"

SCENARIOS = (
    "jwks",
    "jwks304",
    "client_credentials",
    "refresh",
    "password",
    "introspect",
    "userinfo",
    "verify",
)
PEER_SCENARIOS = ("jwks", "client_credentials", "verify")
ALGS = ("RS256", "EdDSA")
OPENSSL_KEY = {"RS256": "rsa2048", "EdDSA": "ed25519"}
AUDIENCE = "urn:bench:api"
SCOPE = "api"


class BenchError(Exception):
    """A clear, expected failure: printed without a traceback."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


class Procs:
    """Every long-lived process the harness starts, in its own process group."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, cmd: list[str], *, env: dict[str, str], cwd: Path | None, logfile: Path
    ) -> subprocess.Popen[bytes]:
        fh = logfile.open("wb")
        p = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        fh.close()
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], grace: float = 8.0) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        # the group may hold children (uvicorn workers) even after the leader exited
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p, grace=3)


PROCS = Procs()


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run(
    cmd: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            env=env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`{' '.join(cmd[:4])} ...` did not finish in {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise BenchError(f"`{cmd[0]}` not found") from exc


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines[-n:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- HTTP


def http(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    host = urllib.parse.urlsplit(url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise BenchError(f"refusing a non-loopback URL: {url}")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def basic(client_id: str, secret: str) -> str:
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def wait_http_ok(
    url: str, proc: subprocess.Popen[bytes], logfile: Path, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{what} exited with code {proc.returncode} before it was ready; "
                f"last lines of its log:\n{tail(logfile)}"
            )
        try:
            status, _, body = http("GET", url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status} {body[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BenchError(
        f"{what} was not ready at {url} within {timeout:.0f} s ({last}); "
        f"last lines of its log:\n{tail(logfile)}"
    )


def discover(base: str) -> dict[str, Any]:
    status, _, body = http("GET", base + "/.well-known/openid-configuration")
    if status != 200:
        raise BenchError(f"GET {base}/.well-known/openid-configuration answered {status}")
    try:
        return dict(json.loads(body))
    except ValueError as exc:
        raise BenchError("discovery document is not JSON") from exc


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    statuses: dict[str, int]
    raw: dict[str, Any]


def run_wrk(
    url: str,
    *,
    conns: int,
    secs: float,
    env: dict[str, str],
    cpu: str,
    chains: bool = False,
    timeout_s: int = 10,
) -> WrkResult:
    threads = conns if chains else 1
    cmd = [
        "taskset",
        "-c",
        cpu,
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{max(1, round(secs))}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(LUA),
        url,
    ]
    full_env = {**os.environ, **env}
    cp = run(cmd, env=full_env, timeout=secs + timeout_s + 60)
    m = re.search(r"^RESULT (.*)$", cp.stdout, re.M)
    if cp.returncode != 0 or not m:
        raise BenchError(f"wrk failed (rc={cp.returncode}): {(cp.stderr or cp.stdout)[-500:]}")
    kv = dict(item.split("=", 1) for item in m.group(1).split())
    raw: dict[str, Any] = {k: (v if k == "statuses" else int(v)) for k, v in kv.items()}
    statuses = {}
    for part in filter(None, kv.get("statuses", "").split(",")):
        k, v = part.split(":")
        statuses[k] = int(v)
    dur = raw["duration_us"] / 1e6
    sock = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return WrkResult(
        rps=raw["good"] / dur if dur else 0.0,
        p50_ms=raw["p50"] / 1000,
        p99_ms=raw["p99"] / 1000,
        errors=raw["bad"] + sock + raw.get("broken", 0),
        requests=raw["requests"],
        statuses=statuses,
        raw=raw,
    )


# --------------------------------------------------------------------------- limits


def measure_limits(args: argparse.Namespace, py: str) -> dict[str, Any]:
    limits: dict[str, Any] = {"cpu": args.server_cpus}
    log(f"openssl speed -seconds {args.limit_secs} ed25519 rsa2048 on CPU {args.server_cpus}")
    cp = run(
        [
            "taskset",
            "-c",
            args.server_cpus,
            "openssl",
            "speed",
            "-seconds",
            str(args.limit_secs),
            "ed25519",
            "rsa2048",
        ],
        timeout=args.limit_secs * 8 + 60,
    )
    out = cp.stdout
    o: dict[str, Any] = {}
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if m:
        o["rsa2048"] = {"sign": float(m.group(1)), "verify": float(m.group(2))}
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if m:
        o["ed25519"] = {"sign": float(m.group(1)), "verify": float(m.group(2))}
    if len(o) != 2:
        raise BenchError(f"could not parse `openssl speed` output:\n{out[-800:]}{cp.stderr[-300:]}")
    limits["openssl"] = o
    if args.wants_argon2:
        log(f"argon2 verify rate for {args.limit_secs} s on CPU {args.server_cpus}")
        cp = run(
            [
                "taskset",
                "-c",
                args.server_cpus,
                py,
                str(HERE / "rates.py"),
                "argon2",
                str(args.limit_secs),
            ],
            timeout=args.limit_secs + 120,
            cwd=REPO,
        )
        try:
            limits["argon2"] = json.loads(cp.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            limits["argon2"] = {"error": (cp.stderr or cp.stdout)[-300:]}
    return limits


def scenario_limit(
    limits: dict[str, Any], scenario: str, alg: str | None
) -> tuple[float | None, str]:
    if alg is None or scenario in {"jwks", "jwks304"}:
        return None, "no crypto on the path"
    o = limits["openssl"][OPENSSL_KEY[alg]]
    sign, verify = o["sign"], o["verify"]
    if scenario == "client_credentials":
        return sign, "1 sign"
    if scenario == "refresh":
        return 1 / (2 / sign + 1 / verify), "2 signs + 1 verify"
    if scenario == "password":
        a = limits.get("argon2", {}).get("rate")
        if not a:
            return None, "argon2 rate unavailable"
        return 1 / (1 / a + 2 / sign), "1 argon2 verify + 2 signs"
    if scenario in {"introspect", "userinfo", "verify"}:
        return verify, "1 verify"
    return None, ""


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    target: str
    scenario: str
    alg: str | None
    workers: int | None
    status: str = "ok"
    note: str = ""
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    limit: float | None = None
    limit_basis: str = ""
    ratio: float | None = None
    vs_peer: float | None = None
    p80: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def fill(row: Row, r: WrkResult) -> Row:
    row.rps, row.p50_ms, row.p99_ms = r.rps, r.p50_ms, r.p99_ms
    row.errors, row.requests, row.statuses = r.errors, r.requests, r.statuses
    if r.errors:
        row.note = (
            f"statuses {r.statuses}, socket/timeout {r.raw['connect'] + r.raw['read']}"
            f"/{r.raw['write']}/{r.raw['timeout']}, broken chains {r.raw.get('broken', 0)}"
        )
    return row


@dataclass
class Load:
    """How to drive one scenario with wrk."""

    url: str
    env: dict[str, str]
    chains: bool = False
    before: Any = None  # callable(conns) -> extra env (refresh seeds)
    after: Any = None  # callable() after each wrk run (collect the chains' leftovers)


def drive(load: Load, args: argparse.Namespace, row: Row, *, p80: bool) -> Row:
    def once(conns: int, secs: float) -> WrkResult:
        extra = load.before(conns) if load.before else {}
        try:
            return run_wrk(
                load.url,
                conns=conns,
                secs=secs,
                env={**load.env, **extra},
                cpu=args.load_cpu,
                chains=load.chains,
            )
        finally:
            if load.after:
                load.after()

    if args.warmup > 0:
        once(args.conns, args.warmup)
    peak = once(args.conns, args.secs)
    fill(row, peak)
    if p80 and peak.rps > 0:
        row.p80 = p80_pass(once, peak.rps, args)
    return row


def p80_pass(once: Any, peak: float, args: argparse.Namespace) -> dict[str, Any]:
    """wrk is closed-loop: find the connection count whose throughput is nearest 80 % of the
    peak with short probes (halving from the peak's count), then measure p99 there."""
    target = 0.8 * peak
    probe_secs = max(1.0, min(3.0, args.secs / 4))
    probes: list[tuple[int, float]] = []
    c = args.conns // 2
    while c >= 1:
        r = once(c, probe_secs)
        probes.append((c, r.rps))
        if r.rps < 0.7 * peak:
            break
        c //= 2
    if not probes:
        return {"note": "no probe"}
    conns, _ = min(probes, key=lambda cr: abs(cr[1] - target))
    r = once(conns, args.secs)
    return {
        "conns": conns,
        "rps": r.rps,
        "fraction": r.rps / peak,
        "p50_ms": r.p50_ms,
        "p99_ms": r.p99_ms,
        "errors": r.errors,
        "probes": probes,
    }


# --------------------------------------------------------------------------- peer


def ensure_peer() -> None:
    if (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    if not (PEER_DIR / "server.mjs").exists():
        if not (PEER_SRC / "server.mjs").exists():
            raise BenchError(
                "the peer is not there: expected ../shared/peer beside the repository "
                "(or run with --no-peer)"
            )
        log("copying ../shared/peer into bench/.peer")
        shutil.copytree(
            PEER_SRC, PEER_DIR, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules")
        )
        for p in [PEER_DIR, *PEER_DIR.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    if not shutil.which("npm"):
        raise BenchError("npm not found: the peer needs Node.js and npm (or run with --no-peer)")
    log("npm install in bench/.peer")
    cp = run(["npm", "install", "--no-audit", "--no-fund"], cwd=PEER_DIR, timeout=300)
    if cp.returncode != 0:
        raise BenchError(f"npm install in bench/.peer failed:\n{cp.stderr[-800:]}")


def bench_peer(args: argparse.Namespace, tmp: Path, py: str, limits: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for alg in args.algs:
        port = args.peer_port
        logfile = tmp / f"peer-{alg}.log"
        log(f"peer: ALG={alg} PORT={port} taskset -c {args.server_cpus} node server.mjs")
        proc = PROCS.start(
            ["taskset", "-c", args.server_cpus, "node", "server.mjs"],
            env={**os.environ, "ALG": alg, "PORT": str(port)},
            cwd=PEER_DIR,
            logfile=logfile,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http_ok(base + "/.well-known/openid-configuration", proc, logfile, "the peer", 60)
            conf = discover(base)
            loads = {
                "jwks": Load(conf["jwks_uri"], {}),
                "client_credentials": Load(
                    conf["token_endpoint"],
                    {
                        "METHOD": "POST",
                        "AUTH": basic("bench", "bench-secret"),
                        "BODY": f"grant_type=client_credentials&scope={SCOPE}",
                    },
                ),
            }
            for sc in PEER_SCENARIOS:
                if sc not in args.scenarios:
                    continue
                log(f"peer {sc} {alg}")
                row = Row("peer", "verify peer-tokens" if sc == "verify" else sc, alg, None)
                row.limit, row.limit_basis = scenario_limit(limits, sc, alg)
                try:
                    if sc == "verify":
                        row.note = "issuer.verify on the peer's tokens"
                        toks = [
                            json.loads(
                                http(
                                    "POST",
                                    conf["token_endpoint"],
                                    form={"grant_type": "client_credentials", "scope": SCOPE},
                                    headers={"Authorization": basic("bench", "bench-secret")},
                                )[2]
                            )["access_token"]
                            for _ in range(50)
                        ]
                        bench_verify(args, tmp, py, base, alg, toks, row)
                        continue
                    drive(loads[sc], args, row, p80=args.peer_p80)
                except BenchError as exc:
                    row.status, row.note = "failed", str(exc)
                finally:
                    rows.append(row)
        finally:
            PROCS.stop(proc)
    return rows


# --------------------------------------------------------------------------- issuer


class Issuer:
    def __init__(self, args: argparse.Namespace, tmp: Path, py: str) -> None:
        self.args, self.tmp, self.py = args, tmp, py
        exe = Path(py).parent / "issuer"
        self.cmd = [str(exe)] if exe.exists() else [py, "-m", "issuer"]
        self.db_name: str | None = None
        self.db_url = ""
        self.clients: dict[str, tuple[str, str]] = {}
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
        a = self.args
        if a.sqlite:
            self.db_url = f"sqlite+aiosqlite:///{self.tmp / 'bench.db'}"
            log("database: SQLite file in a temporary directory")
            return
        name = f"issuer_bench_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        self._psql(f'CREATE DATABASE "{name}"')
        self.db_name = name
        self.db_url = f"postgresql+asyncpg://{a.pg_user}@{a.pg_host}:{a.pg_port}/{name}"
        log(f"database: Postgres {a.pg_host}:{a.pg_port}/{name}")

    def drop_db(self) -> None:
        if self.db_name:
            try:
                self._psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                log(f"dropped database {self.db_name}")
            except BenchError as exc:
                log(f"could not drop database {self.db_name}: {exc}")
            self.db_name = None

    def _psql(self, sql: str) -> None:
        a = self.args
        if not shutil.which("psql"):
            raise BenchError("psql not found (apt-get install postgresql-client), or use --sqlite")
        cp = run(
            [
                "psql",
                "-h",
                a.pg_host,
                "-p",
                str(a.pg_port),
                "-U",
                a.pg_user,
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
                f"Postgres at {a.pg_host}:{a.pg_port} (user {a.pg_user}) refused "
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
        for alg in self.args.algs:
            a = alg.lower()
            self.clients[f"cc-{alg}"] = self._client(f"bench-cc-{a}", alg, ["client_credentials"])
            self.clients[f"login-{alg}"] = self._client(
                f"bench-login-{a}", alg, ["password", "refresh_token"]
            )

    def _client(self, cid: str, alg: str, grants: list[str]) -> tuple[str, str]:
        argv = ["clients", "create", cid]
        for g in grants:
            argv += ["--grant-type", g]
        argv += ["--audience", AUDIENCE, "--scope", SCOPE, "--alg", alg, "--json"]
        out = self.cli(*argv)
        try:
            doc = json.loads(out.strip().splitlines()[-1])
            return str(doc["client_id"]), str(doc["client_secret"])
        except (ValueError, KeyError, IndexError) as exc:
            raise BenchError(
                f"`issuer clients create --json` printed no "
                f"{{client_id, client_secret}}: {out[-300:]!r}"
            ) from exc

    # -- one server
    @contextlib.contextmanager
    def serve(self, alg: str, workers: int) -> Any:
        port = free_port()
        logfile = self.tmp / f"issuer-{alg}-w{workers}.log"
        cmd = [
            "taskset",
            "-c",
            self.args.server_cpus,
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
            f"ISSUER_DEFAULT_ALG={alg} taskset -c {self.args.server_cpus} issuer serve "
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

    def token(self, url: str, client: str, form: dict[str, str]) -> dict[str, Any]:
        cid, secret = self.clients[client]
        status, _, body = http(
            "POST", url, form=form, headers={"Authorization": basic(cid, secret)}
        )
        if status != 200:
            raise BenchError(
                f"{form.get('grant_type')} at the token endpoint answered {status}: {body[:300]!r}"
            )
        return dict(json.loads(body))

    def login(self, url: str, alg: str) -> dict[str, Any]:
        return self.token(
            url,
            f"login-{alg}",
            {
                "grant_type": "password",
                "username": self.email,
                "password": self.password,
                "scope": SCOPE,
            },
        )


def metric_sum(base: str, needle: str) -> float | None:
    try:
        status, _, body = http("GET", base + "/metrics", timeout=10)
    except (OSError, urllib.error.URLError):
        return None
    if status != 200:
        return None
    total, seen = 0.0, False
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("#") or needle not in line.split("{")[0].split(" ")[0]:
            continue
        if line.split("{")[0].split(" ")[0].endswith("_created"):
            continue
        with contextlib.suppress(ValueError, IndexError):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def bench_issuer_server(
    iss: Issuer, base: str, alg: str, workers: int, limits: dict[str, Any]
) -> list[Row]:
    args = iss.args
    rows: list[Row] = []
    try:
        conf = discover(base)
    except (BenchError, OSError) as exc:
        return [
            Row("issuer", sc, alg, workers, "unavailable", f"discovery: {exc}")
            for sc in args.scenarios
        ]
    cc_id, cc_secret = iss.clients[f"cc-{alg}"]
    login_id, login_secret = iss.clients[f"login-{alg}"]

    def need(key: str) -> str:
        v = conf.get(key)
        if not v:
            raise BenchError(f"discovery has no {key}")
        return str(v)

    seeds: list[str] = []
    seed_file = iss.tmp / f"seeds-{alg}-{workers}.txt"
    out_file = iss.tmp / f"left-{alg}-{workers}.txt"

    def seed_before(conns: int) -> dict[str, str]:
        short = conns - len(seeds)
        if short > 0:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                got = list(
                    ex.map(
                        lambda _: iss.login(need("token_endpoint"), alg)["refresh_token"],
                        range(short),
                    )
                )
            seeds.extend(got)
        use = [seeds.pop() for _ in range(conns)]
        seed_file.write_text("\n".join(use) + "\n")
        out_file.unlink(missing_ok=True)
        return {"SEEDS": str(seed_file), "OUT": str(out_file)}

    def seed_after() -> None:
        if out_file.exists():  # the chains' last tokens, never presented: they continue
            seeds.extend(t for t in out_file.read_text().split() if t)

    def make_load(sc: str) -> Load:
        if sc == "jwks":
            return Load(need("jwks_uri"), {})
        if sc == "jwks304":
            status, headers, _ = http("GET", need("jwks_uri"))
            etag = headers.get("etag")
            if status != 200 or not etag:
                raise BenchError(f"JWKS answered {status} with no ETag")
            return Load(need("jwks_uri"), {"INM": etag, "EXPECT": "304"})
        if sc == "client_credentials":
            return Load(
                need("token_endpoint"),
                {
                    "METHOD": "POST",
                    "AUTH": basic(cc_id, cc_secret),
                    "BODY": f"grant_type=client_credentials&scope={SCOPE}",
                },
            )
        if sc == "password":
            body = urllib.parse.urlencode(
                {
                    "grant_type": "password",
                    "username": iss.email,
                    "password": iss.password,
                    "scope": SCOPE,
                }
            )
            return Load(
                need("token_endpoint"),
                {"METHOD": "POST", "AUTH": basic(login_id, login_secret), "BODY": body},
            )
        if sc == "refresh":
            return Load(
                need("token_endpoint"),
                {"METHOD": "POST", "MODE": "refresh", "AUTH": basic(login_id, login_secret)},
                chains=True,
                before=seed_before,
                after=seed_after,
            )
        if sc == "introspect":
            at = iss.login(need("token_endpoint"), alg)["access_token"]
            body = urllib.parse.urlencode({"token": at, "token_type_hint": "access_token"})
            return Load(
                need("introspection_endpoint"),
                {
                    "METHOD": "POST",
                    "AUTH": basic(cc_id, cc_secret),
                    "BODY": body,
                    "EXPECT_BODY": '"active"%s*:%s*true',
                },
            )
        if sc == "userinfo":
            at = iss.login(need("token_endpoint"), alg)["access_token"]
            return Load(need("userinfo_endpoint"), {"AUTH": f"Bearer {at}"})
        raise BenchError(f"unknown scenario {sc}")

    for sc in args.scenarios:
        row = Row("issuer", sc, alg, workers)
        row.limit, row.limit_basis = scenario_limit(limits, sc, alg)
        log(f"issuer {sc} {alg} workers={workers}")
        try:
            if sc == "verify":
                toks = [
                    iss.token(
                        need("token_endpoint"),
                        f"cc-{alg}",
                        {"grant_type": "client_credentials", "scope": SCOPE},
                    )["access_token"]
                    for _ in range(50)
                ]
                bench_verify(args, iss.tmp, iss.py, base, alg, toks, row)
            else:
                load = make_load(sc)
                before = metric_sum(base, "reuse") if sc == "refresh" else None
                drive(load, args, row, p80=not args.no_p80)
                if sc == "refresh":
                    after = metric_sum(base, "reuse")
                    row.extra["reuse_detections"] = (
                        None if after is None else after - (before or 0.0)
                    )
                    if after is None:
                        row.extra["reuse_note"] = "no *reuse* series in /metrics"
        except BenchError as exc:
            row.status = "unavailable" if "discovery has no" in str(exc) else "failed"
            row.note = str(exc)
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            row.status, row.note = "failed", f"{type(exc).__name__}: {exc}"
        rows.append(row)
    return rows


def bench_verify(
    args: argparse.Namespace, tmp: Path, py: str, base: str, alg: str, tokens: list[str], row: Row
) -> None:
    """issuer.verify in a process of its own on the load CPU, verifying cached tokens."""
    f = tmp / f"verify-{alg}.txt"
    f.write_text("\n".join(tokens) + "\n")
    cp = run(
        [
            "taskset",
            "-c",
            args.load_cpu,
            py,
            str(HERE / "rates.py"),
            "verify",
            base,
            AUDIENCE,
            alg,
            str(f),
            str(args.secs),
        ],
        timeout=args.secs + 120,
        cwd=REPO,
    )
    try:
        res = json.loads(cp.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise BenchError(f"rates.py verify printed no result: {cp.stderr[-400:]}") from exc
    if "unavailable" in res:
        row.status, row.note = "unavailable", res["unavailable"]
        return
    if "failed" in res:
        row.status, row.note = "failed", res["failed"]
        return
    row.rps, row.p50_ms, row.p99_ms = res["rate"], res.get("p50_ms"), res.get("p99_ms")
    row.errors, row.requests = res["errors"], res["n"]
    row.extra["jwks_fetches"] = res.get("jwks_fetches")
    row.note = f"in-process issuer.verify ({res['mode']}) on CPU {args.load_cpu}"
    if res.get("first_error"):
        row.note += f"; first error: {res['first_error']}"


# --------------------------------------------------------------------------- main


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise BenchError("wrk is not installed and we are not root: apt-get install wrk")
    log("installing wrk from Debian's packages")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        cp = run(cmd, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
        if cp.returncode != 0:
            raise BenchError(f"`{' '.join(cmd)}` failed: {cp.stderr[-400:]}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sqlite", action="store_true", help="SQLite file instead of Postgres")
    p.add_argument("--workers", default="both", choices=["1", "2", "both"])
    p.add_argument("--secs", type=float, default=10, help="seconds per measured pass (10)")
    p.add_argument("--warmup", type=float, default=1, help="unrecorded warm-up seconds (1)")
    p.add_argument("--conns", type=int, default=32, help="wrk connections at peak (32)")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)}",
    )
    p.add_argument("--algs", default=",".join(ALGS), help="RS256,EdDSA")
    p.add_argument("--peer-only", action="store_true", help="limits and the peer only")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--no-p80", action="store_true", help="skip the p99-at-80%%-of-peak pass")
    p.add_argument("--peer-p80", action="store_true", help="the 80%% pass for the peer too")
    p.add_argument("--limit-secs", type=int, default=3, help="openssl speed -seconds (3)")
    p.add_argument("--server-cpus", default="0", help="taskset CPU list of the server (0)")
    p.add_argument("--load-cpu", default="1", help="taskset CPU list of wrk (1)")
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--pg-user", default="postgres")
    p.add_argument("--peer-port", type=int, default=7100)
    p.add_argument("--no-plot", action="store_true")
    a = p.parse_args(argv)
    alias = {"cc": "client_credentials"}
    a.scenarios = [alias.get(s.strip(), s.strip()) for s in a.scenarios.split(",") if s.strip()]
    bad = [s for s in a.scenarios if s not in SCENARIOS]
    if bad:
        p.error(f"unknown scenarios {bad}; known: {', '.join(SCENARIOS)}")
    a.algs = [x.strip() for x in a.algs.split(",") if x.strip()]
    if any(x not in ALGS for x in a.algs):
        p.error("--algs takes RS256 and/or EdDSA")
    a.worker_list = [1, 2] if a.workers == "both" else [int(a.workers)]
    a.wants_argon2 = "password" in a.scenarios
    if a.secs < 1 or a.secs > 600:
        p.error("--secs must be between 1 and 600")
    return a


def environment() -> dict[str, Any]:
    def out(cmd: list[str]) -> str:
        try:
            cp = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
            return (cp.stdout or cp.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": out(["wrk", "-v"]),
        "node": out(["node", "--version"]),
        "openssl": out(["openssl", "version"]),
        "commit": out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
    }


def compute_ratios(rows: list[Row]) -> None:
    peer = {(r.scenario, r.alg): r.rps for r in rows if r.target == "peer" and r.rps}
    for r in rows:
        if r.rps is not None and r.limit:
            r.ratio = r.rps / r.limit
        if (
            r.target == "issuer"
            and r.scenario != "verify"
            and r.rps is not None
            and (r.scenario, r.alg) in peer
        ):
            r.vs_peer = r.rps / peer[(r.scenario, r.alg)]


def main(argv: list[str]) -> int:
    import report

    args = parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    py = sys.executable
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tmp = Path(tempfile.mkdtemp(prefix="issuer-bench-"))
    iss: Issuer | None = None
    rows: list[Row] = []
    failure: str | None = None
    limits: dict[str, Any] = {}
    try:
        if (os.cpu_count() or 1) < 2:
            log("warning: fewer than 2 CPUs: server and wrk share a core")
        ensure_wrk()
        if not args.no_peer:
            ensure_peer()
        if not args.peer_only:
            iss = Issuer(args, tmp, py)
            iss.preflight()  # fail fast, before minutes of peer and limits
        limits = measure_limits(args, py)
        if not args.no_peer:
            rows += bench_peer(args, tmp, py, limits)
        if iss is not None:
            iss.create_db()
            iss.setup()
            for workers in args.worker_list:
                for alg in args.algs:
                    with iss.serve(alg, workers) as base:
                        rows += bench_issuer_server(iss, base, alg, workers, limits)
    except BenchError as exc:
        failure = str(exc)
    finally:
        PROCS.stop_all()
        if iss is not None:
            iss.drop_db()
        shutil.rmtree(tmp, ignore_errors=True)

    compute_ratios(rows)
    res = {
        "started": started,
        "config": {
            "db": "sqlite" if args.sqlite else "postgres",
            "workers": args.worker_list,
            "secs": args.secs,
            "warmup": args.warmup,
            "conns": args.conns,
            "algs": args.algs,
            "scenarios": args.scenarios,
            "peer_only": args.peer_only,
            "server_cpus": args.server_cpus,
            "load_cpu": args.load_cpu,
            "p80": not args.no_p80,
        },
        "environment": environment(),
        "limits": limits,
        "rows": [r.__dict__ for r in rows],
        "failure": failure,
    }
    if rows or limits:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{stamp}.json"
        out.write_text(json.dumps(res, indent=2) + "\n")
        print()
        print(report.render(res))
        print(f"\nJSON: bench/results/{out.name}")
        if not args.no_plot and rows:
            png = RESULTS / f"{stamp}.png"
            why = report.plot(res, png)
            print(f"plot: {why}" if why else f"plot: bench/results/{png.name}")
    if failure:
        print(f"\nbench: error: {failure}", file=sys.stderr)
        return 2
    not_ok = [r for r in rows if r.status != "ok"]
    if not_ok:
        print(
            f"\nbench: {len(not_ok)} scenario run(s) unavailable or failed (see the table)",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
