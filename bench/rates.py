"""In-process rates, run by the harness as subprocesses pinned to one core.

    python bench/rates.py argon2 SECS
        raw Argon2 verify rate with the parameters the issuer uses (issuer.accounts'
        PasswordHasher when it exposes one, else argon2-cffi's defaults: RFC 9106 low-memory,
        time_cost=3, memory_cost=65536 KiB, parallelism=4).
    python bench/rates.py verify ISSUER_URL AUDIENCE ALG TOKENS_FILE SECS
        issuer.verify verifying cached access tokens (JWKS fetched once, then cached).

Each prints one JSON object on stdout; {"unavailable": reason} when the piece to measure does
not exist yet (a missing library is not a harness failure).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import statistics
import sys
import time
from typing import Any


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj))


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {}
    s = sorted(samples_ns)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))] / 1e6  # noqa: E731
    return {"p50_ms": p(0.50), "p99_ms": p(0.99), "mean_ms": statistics.fmean(s) / 1e6}


def find_hasher() -> tuple[Any, str]:
    """The issuer's own PasswordHasher when its accounts package exposes one."""
    import importlib

    import argon2

    for modname in ("issuer.accounts", "issuer.accounts.passwords", "issuer.passwords"):
        try:
            mod = importlib.import_module(modname)
        except Exception:  # noqa: S112 - not there (yet): try the next place
            continue
        for name in dir(mod):
            if isinstance(getattr(mod, name), argon2.PasswordHasher):
                return getattr(mod, name), f"{modname}.{name}"
    return argon2.PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4), (
        "argon2-cffi defaults"
    )


def argon2_rate(secs: float) -> None:
    try:
        hasher, source = find_hasher()
    except ImportError as exc:
        _emit({"unavailable": f"argon2-cffi not importable: {exc}"})
        return
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
            "time_cost": hasher.time_cost,
            "memory_cost": hasher.memory_cost,
            "parallelism": hasher.parallelism,
            **_percentiles(samples),
        }
    )


def _make_verifier(issuer_url: str, audience: str, alg: str) -> Any:
    from issuer.verify import Verifier  # type: ignore[import-not-found]

    try:
        return Verifier(issuer_url, audience, algorithms=(alg,))
    except TypeError:
        return Verifier(issuer_url=issuer_url, audience=audience, algorithms=(alg,))


def verify_rate(issuer_url: str, audience: str, alg: str, tokens_file: str, secs: float) -> None:
    try:
        verifier = _make_verifier(issuer_url, audience, alg)
    except ImportError as exc:
        _emit({"unavailable": f"issuer.verify not importable yet: {exc}"})
        return
    except Exception as exc:
        _emit({"unavailable": f"issuer.verify.Verifier(...) failed: {type(exc).__name__}: {exc}"})
        return
    if hasattr(verifier, "__enter__"):
        verifier = verifier.__enter__()
    fn = getattr(verifier, "verify", None)
    if fn is None:
        _emit({"unavailable": "issuer.verify.Verifier has no verify() method"})
        return
    with open(tokens_file) as fh:
        tokens = [t.strip() for t in fh if t.strip()]
    if not tokens:
        _emit({"unavailable": "no tokens to verify"})
        return

    if inspect.iscoroutinefunction(fn):

        async def loop() -> tuple[int, int, list[int], str | None]:
            await fn(tokens[0])  # fetch + cache the JWKS
            return await _timed_async(fn, tokens, secs)

        try:
            n, errors, samples, first_error = asyncio.run(loop())
        except Exception as exc:
            _emit({"failed": f"first verify raised {type(exc).__name__}: {exc}"})
            return
    else:
        try:
            fn(tokens[0])  # fetch + cache the JWKS
        except Exception as exc:
            _emit({"failed": f"first verify raised {type(exc).__name__}: {exc}"})
            return
        n, errors, samples, first_error = _timed_sync(fn, tokens, secs)
    elapsed = sum(samples) / 1e9
    _emit(
        {
            "rate": (n - errors) / elapsed if elapsed else 0.0,
            "n": n,
            "errors": errors,
            "first_error": first_error,
            "mode": "async" if inspect.iscoroutinefunction(fn) else "sync",
            "jwks_fetches": getattr(verifier, "jwks_fetches", None),
            **_percentiles(samples),
        }
    )


def _timed_sync(fn: Any, tokens: list[str], secs: float) -> tuple[int, int, list[int], str | None]:
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


async def _timed_async(
    fn: Any, tokens: list[str], secs: float
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
            await fn(tok)
        except Exception as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        samples.append(time.perf_counter_ns() - t0)
        n += 1
    return n, errors, samples, first_error


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "argon2":
        argon2_rate(float(argv[1]))
        return 0
    if len(argv) >= 6 and argv[0] == "verify":
        verify_rate(argv[1], argv[2], argv[3], argv[4], float(argv[5]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
