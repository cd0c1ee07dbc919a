"""In-process rates, run by the harness as subprocesses pinned to one core.

    python -m bench.rates argon2 SECS
        raw Argon2 verify rate with the issuer's own hasher (issuer.accounts.passwords.HASHER:
        the very object, so the same type, time, memory and parallelism as a login).
    python -m bench.rates verify ISSUER_URL AUDIENCE ALG TOKENS_FILE SECS
        issuer.verify verifying cached access tokens (JWKS fetched once, then cached).

Each prints one JSON object on stdout. argon2 prints {"failed": reason} and exits 1 when the
issuer's hasher cannot be used: there is no fallback. verify prints {"unavailable": reason} or
{"failed": reason} when the verifier cannot be built or refuses the first token (the table
shows the reason).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = ["argon2_rate", "issuer_hasher", "main", "verify_rate"]


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj))


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {}
    s = sorted(samples_ns)

    def p(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))] / 1e6

    return {"p50_ms": p(0.50), "p99_ms": p(0.99), "mean_ms": statistics.fmean(s) / 1e6}


def issuer_hasher() -> tuple[PasswordHasher, str]:
    """The hasher the issuer verifies logins with, and where it lives.

    The bench's one import of the issuer's password code: if the hasher moves, change it here.
    """
    from issuer.accounts.passwords import HASHER

    return HASHER, "issuer.accounts.passwords.HASHER"


def argon2_rate(secs: float) -> int:
    try:
        hasher, source = issuer_hasher()
    except ImportError as exc:
        _emit({"failed": f"the issuer's password hasher is not importable: {exc}"})
        return 1
    pw = "correct horse battery staple"
    digest = hasher.hash(pw)
    hasher.verify(digest, pw)  # warm
    n, samples = 0, []
    end = time.perf_counter() + secs
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        hasher.verify(digest, pw)
        samples.append(time.perf_counter_ns() - t0)
        n += 1
    elapsed = sum(samples) / 1e9
    _emit(
        {
            "rate": n / elapsed,
            "n": n,
            "source": source,
            "type": hasher.type.name,
            "time_cost": hasher.time_cost,
            "memory_cost": hasher.memory_cost,
            "parallelism": hasher.parallelism,
            **_percentiles(samples),
        }
    )
    return 0


def verify_rate(issuer_url: str, audience: str, alg: str, tokens_file: str, secs: float) -> int:
    try:
        from issuer.verify import Verifier
    except ImportError as exc:
        _emit({"unavailable": f"issuer.verify not importable: {exc}"})
        return 0
    try:
        verifier = Verifier(issuer_url, audience, algorithms=(alg,))
    except Exception as exc:
        _emit({"unavailable": f"issuer.verify.Verifier(...) failed: {type(exc).__name__}: {exc}"})
        return 0
    with open(tokens_file) as fh:
        tokens = [t.strip() for t in fh if t.strip()]
    if not tokens:
        _emit({"unavailable": "no tokens to verify"})
        return 0
    try:
        verifier.verify(tokens[0])  # fetch + cache the JWKS
    except Exception as exc:
        _emit({"failed": f"first verify raised {type(exc).__name__}: {exc}"})
        return 0
    n, errors, samples, first_error = _timed(verifier.verify, tokens, secs)
    elapsed = sum(samples) / 1e9
    _emit(
        {
            "rate": (n - errors) / elapsed if elapsed else 0.0,
            "n": n,
            "errors": errors,
            "first_error": first_error,
            "mode": "sync",
            "jwks_fetches": verifier.jwks_fetches,
            **_percentiles(samples),
        }
    )
    return 0


def _timed(
    fn: Callable[[str], object], tokens: list[str], secs: float
) -> tuple[int, int, list[int], str | None]:
    n = errors = 0
    samples: list[int] = []
    first_error = None
    end = time.perf_counter() + secs
    k = len(tokens)
    while time.perf_counter() < end:
        tok = tokens[n % k]
        t0 = time.perf_counter_ns()
        try:
            fn(tok)
        except Exception as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        samples.append(time.perf_counter_ns() - t0)
        n += 1
    return n, errors, samples, first_error


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "argon2":
        return argon2_rate(float(argv[1]))
    if len(argv) >= 6 and argv[0] == "verify":
        return verify_rate(argv[1], argv[2], argv[3], argv[4], float(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
