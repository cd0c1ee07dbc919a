"""wrk: installing it, one run of the Lua script, and the passes of a scenario (warm-up, peak,
and the p99-at-80 %-of-peak search)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import LUA, BenchError, log
from bench.options import Options
from bench.processes import run
from bench.results import Row

__all__ = ["Load", "WrkResult", "drive", "ensure_wrk", "run_wrk"]


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


def _no_extra(_conns: int) -> dict[str, str]:
    return {}


def _nothing() -> None:
    return None


@dataclass
class Load:
    """How to drive one scenario with wrk: the URL and lua/bench.lua's environment."""

    url: str
    env: dict[str, str]
    chains: bool = False  # one connection per wrk thread (refresh chains, code-flow logins)
    before: Callable[[int], dict[str, str]] = field(default=_no_extra)  # conns -> extra env
    after: Callable[[], None] = field(default=_nothing)  # after each wrk run


Pass = Callable[[int, float], WrkResult]  # (connections, seconds) -> one wrk run


def drive(load: Load, opts: Options, row: Row, *, p80: bool) -> Row:
    def once(conns: int, secs: float) -> WrkResult:
        extra = load.before(conns)
        try:
            return run_wrk(
                load.url,
                conns=conns,
                secs=secs,
                env={**load.env, **extra},
                cpu=opts.load_cpu,
                chains=load.chains,
            )
        finally:
            load.after()

    if opts.warmup > 0:
        once(opts.conns, opts.warmup)
    peak = once(opts.conns, opts.secs)
    _fill(row, peak)
    if p80 and peak.rps > 0:
        row.p80 = p80_pass(once, peak.rps, opts)
    return row


def _fill(row: Row, r: WrkResult) -> None:
    row.rps, row.p50_ms, row.p99_ms = r.rps, r.p50_ms, r.p99_ms
    row.errors, row.requests, row.statuses = r.errors, r.requests, r.statuses
    if "req_p50" in r.raw:  # the code flow: p50/p99 are per login, these per request
        row.extra["req_p50_ms"] = r.raw["req_p50"] / 1000
        row.extra["req_p99_ms"] = r.raw["req_p99"] / 1000
    if r.errors:
        row.note = (
            f"statuses {r.statuses}, socket/timeout {r.raw['connect'] + r.raw['read']}"
            f"/{r.raw['write']}/{r.raw['timeout']}, broken chains {r.raw.get('broken', 0)}"
        )


def p80_pass(once: Pass, peak: float, opts: Options) -> dict[str, Any]:
    """wrk is closed-loop: find the connection count whose throughput is nearest 80 % of the
    peak with short probes (halving from the peak's count), then measure p99 there."""
    target = 0.8 * peak
    probe_secs = max(1.0, min(3.0, opts.secs / 4))
    probes: list[tuple[int, float]] = []
    c = opts.conns // 2
    while c >= 1:
        r = once(c, probe_secs)
        probes.append((c, r.rps))
        if r.rps < 0.7 * peak:
            break
        c //= 2
    if not probes:
        return {"note": "no probe"}
    conns, _ = min(probes, key=lambda cr: abs(cr[1] - target))
    r = once(conns, opts.secs)
    return {
        "conns": conns,
        "rps": r.rps,
        "fraction": r.rps / peak,
        "p50_ms": r.p50_ms,
        "p99_ms": r.p99_ms,
        "errors": r.errors,
        "probes": probes,
    }
