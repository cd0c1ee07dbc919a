"""The peer: panva/oidc-provider from ../shared/peer, installed once into bench/.peer and run
per alg on the server's CPUs for the scenarios whose row says `on_peer`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.common import CODE_SCOPE, PEER_DIR, PEER_SRC, REDIRECT_URI, BenchError, log
from bench.limits import Limits
from bench.loopback import CodeClient, basic, discover, wait_http_ok
from bench.options import Options
from bench.processes import PROCS, run
from bench.results import Row
from bench.scenarios import SCENARIOS, Target, measure

__all__ = ["bench_peer", "ensure_peer"]

# the clients ../shared/peer/server.mjs registers: client_credentials, and the code flow's
# public client, whose development login pages take any login and password (its consent page,
# shown at the first login of a session, is submitted as it is: later authorizations answer
# with a code at once)
PEER_CLIENT = ("bench", "bench-secret")
PEER_CODE_CLIENT = CodeClient(
    "bench-spa", REDIRECT_URI, CODE_SCOPE, {"login": "bench-user", "password": "bench"}
)


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


def bench_peer(opts: Options, tmp: Path, limits: Limits) -> list[Row]:
    rows: list[Row] = []
    for alg in opts.algs:
        port = opts.peer_port
        logfile = tmp / f"peer-{alg}.log"
        log(f"peer: ALG={alg} PORT={port} taskset -c {opts.server_cpus} node server.mjs")
        proc = PROCS.start(
            ["taskset", "-c", opts.server_cpus, "node", "server.mjs"],
            env={**os.environ, "ALG": alg, "PORT": str(port)},
            cwd=PEER_DIR,
            logfile=logfile,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http_ok(base + "/.well-known/openid-configuration", proc, logfile, "the peer", 60)
            target = Target(
                kind="peer",
                base=base,
                discovery=discover(base),
                alg=alg,
                workers=None,
                cc_auth=basic(*PEER_CLIENT),
                opts=opts,
                tmp=tmp,
                p80=opts.peer_p80,
                code_client=PEER_CODE_CLIENT,
            )
            rows += [
                measure(sc, target, limits)
                for sc in SCENARIOS
                if sc.on_peer and sc.name in opts.scenarios
            ]
        finally:
            PROCS.stop(proc)
    return rows
