"""The physical limits on the server's core, measured in the same run: `openssl speed` for
signing and verifying, and the Argon2 verify rate with the issuer's own hasher; and `Cost`,
the crypto one request of a scenario does, which turns those rates into its limit."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bench.common import REPO, BenchError, log
from bench.options import Options
from bench.processes import run

__all__ = ["OPENSSL_KEY", "Cost", "Limits", "measure_limits"]

OPENSSL_KEY = {"RS256": "rsa2048", "EdDSA": "ed25519"}


@dataclass(frozen=True)
class SignVerify:
    sign: float
    verify: float


@dataclass(frozen=True)
class Limits:
    cpu: str
    openssl: dict[str, SignVerify]  # keyed by OPENSSL_KEY's values
    argon2: dict[str, Any] | None  # bench.rates' argon2 result; None when not measured

    def crypto(self, alg: str) -> SignVerify:
        return self.openssl[OPENSSL_KEY[alg]]

    def argon2_rate(self) -> float:
        if self.argon2 is None:
            raise BenchError("the Argon2 rate was not measured (no password scenario asked for)")
        return float(self.argon2["rate"])

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "cpu": self.cpu,
            "openssl": {k: {"sign": v.sign, "verify": v.verify} for k, v in self.openssl.items()},
        }
        if self.argon2 is not None:
            doc["argon2"] = self.argon2
        return doc


@dataclass(frozen=True)
class Cost:
    """The crypto one request does on the server; none means no limit on the path."""

    signs: int = 0
    verifies: int = 0
    argon2: int = 0

    def basis(self) -> str:
        parts = [
            _count(self.argon2, "argon2 verify", "argon2 verifies"),
            _count(self.signs, "sign", "signs"),
            _count(self.verifies, "verify", "verifies"),
        ]
        return " + ".join(p for p in parts if p) or "no crypto on the path"

    def limit(self, limits: Limits, alg: str) -> float | None:
        """Requests per second one core can serve doing only this crypto."""
        if not (self.signs or self.verifies or self.argon2):
            return None
        rates = limits.crypto(alg)
        seconds = self.signs / rates.sign + self.verifies / rates.verify
        if self.argon2:
            seconds += self.argon2 / limits.argon2_rate()
        return 1 / seconds


def _count(n: int, one: str, many: str) -> str:
    return "" if n == 0 else f"{n} {one if n == 1 else many}"


def measure_limits(opts: Options) -> Limits:
    log(f"openssl speed -seconds {opts.limit_secs} ed25519 rsa2048 on CPU {opts.server_cpus}")
    cp = run(
        [
            "taskset",
            "-c",
            opts.server_cpus,
            "openssl",
            "speed",
            "-seconds",
            str(opts.limit_secs),
            "ed25519",
            "rsa2048",
        ],
        timeout=opts.limit_secs * 8 + 60,
    )
    out = cp.stdout
    o: dict[str, SignVerify] = {}
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if m:
        o["rsa2048"] = SignVerify(float(m.group(1)), float(m.group(2)))
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if m:
        o["ed25519"] = SignVerify(float(m.group(1)), float(m.group(2)))
    if len(o) != 2:
        raise BenchError(f"could not parse `openssl speed` output:\n{out[-800:]}{cp.stderr[-300:]}")
    argon2 = measure_argon2(opts) if opts.wants_argon2 else None
    return Limits(cpu=opts.server_cpus, openssl=o, argon2=argon2)


def measure_argon2(opts: Options) -> dict[str, Any]:
    """bench.rates' Argon2 verify rate with the issuer's own hasher, on the server's core.

    No fallback: when it cannot be measured the run stops and says why, since a limit from
    other parameters would make the password row's ratio meaningless.
    """
    log(f"argon2 verify rate for {opts.limit_secs} s on CPU {opts.server_cpus}")
    cp = run(
        [
            "taskset",
            "-c",
            opts.server_cpus,
            opts.python,
            "-m",
            "bench.rates",
            "argon2",
            str(opts.limit_secs),
        ],
        timeout=opts.limit_secs + 120,
        cwd=REPO,
    )
    try:
        doc = json.loads(cp.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        doc = None
    if cp.returncode != 0 or not isinstance(doc, dict) or "rate" not in doc:
        why = doc.get("failed") if isinstance(doc, dict) else None
        raise BenchError(
            "could not measure the Argon2 verify rate with the issuer's hasher "
            "(python -m bench.rates argon2), which the password scenario's limit needs: "
            + (why or f"rc={cp.returncode}: {(cp.stderr or cp.stdout)[-400:]}")
        )
    return doc
