"""One result row per (target, scenario, alg, workers), the ratios between rows, and the
run's environment: the parts of the saved JSON that report.py renders."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO

__all__ = ["Row", "compute_ratios", "environment", "rows_json"]


@dataclass
class Row:
    target: str  # "issuer" or "peer"
    scenario: str
    alg: str | None
    workers: int | None
    status: str = "ok"  # "ok", "unavailable" or "failed" (note says why)
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


def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def compute_ratios(rows: list[Row]) -> None:
    """ratio = rps / limit; vs_peer = issuer rps / peer rps for the same scenario and alg."""
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
