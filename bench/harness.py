"""issuer benchmark harness: limits, the peer and the issuer in one run (entry point: bench/run).

Server under test on CPU 0 (taskset), wrk on CPU 1, loopback only, every step bounded in time,
everything started is stopped on exit. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.common import RESULTS, BenchError, log
from bench.issuer_server import Issuer
from bench.limits import Limits, measure_limits
from bench.loopback import discover
from bench.options import ALGS, Options
from bench.peer import bench_peer, ensure_peer
from bench.processes import PROCS, raise_on_signals
from bench.results import Row, compute_ratios, environment, rows_json
from bench.scenarios import BY_NAME, SCENARIOS, Target, measure
from bench.wrk import ensure_wrk

__all__ = ["main", "parse_args"]

NAMES = tuple(sc.name for sc in SCENARIOS)
ALIASES = {"cc": "client_credentials"}


def parse_args(argv: list[str]) -> Options:
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
        default=",".join(NAMES),
        help=f"comma-separated subset of {','.join(NAMES)}",
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
    scenarios = [
        ALIASES.get(s.strip(), s.strip()) for s in str(a.scenarios).split(",") if s.strip()
    ]
    bad = [s for s in scenarios if s not in BY_NAME]
    if bad:
        p.error(f"unknown scenarios {bad}; known: {', '.join(NAMES)}")
    algs = [x.strip() for x in str(a.algs).split(",") if x.strip()]
    if any(x not in ALGS for x in algs):
        p.error("--algs takes RS256 and/or EdDSA")
    if a.secs < 1 or a.secs > 600:
        p.error("--secs must be between 1 and 600")
    return Options(
        sqlite=a.sqlite,
        worker_list=[1, 2] if a.workers == "both" else [int(a.workers)],
        secs=a.secs,
        warmup=a.warmup,
        conns=a.conns,
        scenarios=scenarios,
        algs=algs,
        peer_only=a.peer_only,
        no_peer=a.no_peer,
        no_p80=a.no_p80,
        peer_p80=a.peer_p80,
        limit_secs=a.limit_secs,
        server_cpus=a.server_cpus,
        load_cpu=a.load_cpu,
        pg_host=a.pg_host,
        pg_port=a.pg_port,
        pg_user=a.pg_user,
        peer_port=a.peer_port,
        no_plot=a.no_plot,
        python=sys.executable,
    )


def bench_issuer_server(
    iss: Issuer, base: str, alg: str, workers: int, limits: Limits
) -> list[Row]:
    """The asked-for scenarios, in the order asked, against one running `issuer serve`."""
    opts = iss.opts
    try:
        discovery = discover(base)
    except (BenchError, OSError) as exc:
        return [
            Row("issuer", sc, alg, workers, "unavailable", f"discovery: {exc}")
            for sc in opts.scenarios
        ]
    target = Target(
        kind="issuer",
        base=base,
        discovery=discovery,
        alg=alg,
        workers=workers,
        cc_auth=iss.auth(f"cc-{alg}"),
        opts=opts,
        tmp=iss.tmp,
        p80=not opts.no_p80,
        issuer=iss,
        code_client=iss.code_clients.get(alg),
    )
    return [measure(BY_NAME[name], target, limits) for name in opts.scenarios]


def result_doc(
    opts: Options,
    started: str,
    limits: Limits | None,
    rows: list[Row],
    failure: str | None,
) -> dict[str, Any]:
    """The saved JSON (report.py renders it)."""
    return {
        "started": started,
        "config": {
            "db": "sqlite" if opts.sqlite else "postgres",
            "workers": opts.worker_list,
            "secs": opts.secs,
            "warmup": opts.warmup,
            "conns": opts.conns,
            "algs": opts.algs,
            "scenarios": opts.scenarios,
            "peer_only": opts.peer_only,
            "server_cpus": opts.server_cpus,
            "load_cpu": opts.load_cpu,
            "p80": not opts.no_p80,
        },
        "environment": environment(),
        "limits": limits.as_json() if limits else {},
        "rows": rows_json(rows),
        "failure": failure,
    }


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    raise_on_signals()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tmp = Path(tempfile.mkdtemp(prefix="issuer-bench-"))
    iss: Issuer | None = None
    rows: list[Row] = []
    failure: str | None = None
    limits: Limits | None = None
    try:
        if (os.cpu_count() or 1) < 2:
            log("warning: fewer than 2 CPUs: server and wrk share a core")
        ensure_wrk()
        if not opts.no_peer:
            ensure_peer()
        if not opts.peer_only:
            iss = Issuer(opts, tmp)
            iss.preflight()  # fail fast, before minutes of peer and limits
        limits = measure_limits(opts)
        if not opts.no_peer:
            rows += bench_peer(opts, tmp, limits)
        if iss is not None:
            iss.create_db()
            iss.setup()
            for workers in opts.worker_list:
                for alg in opts.algs:
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
    res = result_doc(opts, started, limits, rows, failure)
    if rows or limits:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{stamp}.json"
        out.write_text(json.dumps(res, indent=2) + "\n")
        print()
        print(report.render(res))
        print(f"\nJSON: bench/results/{out.name}")
        if not opts.no_plot and rows:
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
