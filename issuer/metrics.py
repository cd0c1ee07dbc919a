"""Prometheus metrics, one registry per process (served at /metrics).

With several workers each process has its own counters; scrape each, or run one worker per
container as is usual behind a load balancer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CLEANUP_DELETED",
    "JWKS_BYTES",
    "JWKS_KEYS",
    "KEY_RING_RELOADS",
    "KEY_ROTATIONS",
    "LOGIN_FAILURES",
    "REFRESH_REUSE",
    "REGISTRY",
    "REQUEST_LATENCY",
    "REVOCATIONS",
    "TOKENS_ISSUED",
    "TOKEN_REQUESTS",
    "watch_signing_keys",
]

# A `_created` series per counter and histogram is the time this process first saw a label
# set: noise next to the process start time, and twice the series to scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
# CPU, memory, open files and start time (Linux /proc), the Python version, GC counts.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
REGISTRY.register(GC_COLLECTOR)

TOKENS_ISSUED = Counter(
    "issuer_tokens_issued_total",
    "Tokens issued, by grant type.",
    ["grant_type"],
    registry=REGISTRY,
)
REFRESH_REUSE = Counter(
    "issuer_refresh_reuse_detected_total",
    "Refresh tokens presented again after use; each revoked its family.",
    registry=REGISTRY,
)
LOGIN_FAILURES = Counter(
    "issuer_login_failures_total",
    "Failed password logins, by reason: invalid_credentials (unknown user or wrong password, "
    "never told apart), throttled, disabled.",
    ["reason"],
    registry=REGISTRY,
)
REVOCATIONS = Counter(
    "issuer_revocations_total", "Revocations, by what was revoked.", ["kind"], registry=REGISTRY
)
REQUEST_LATENCY = Histogram(
    "issuer_request_duration_seconds",
    "Request latency, by route and status class.",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
CLEANUP_DELETED = Counter(
    "issuer_cleanup_deleted_rows_total",
    "Expired rows deleted by the clean-up job, by table.",
    ["table"],
    registry=REGISTRY,
)
TOKEN_REQUESTS = Counter(
    "issuer_token_requests_total",
    "Token endpoint requests, by grant type (`other` when not one the issuer offers) and "
    "RFC 6749 error code (`none` when a token was issued).",
    ["grant_type", "error"],
    registry=REGISTRY,
)
KEY_ROTATIONS = Counter(
    "issuer_key_rotations_total",
    "Signing-key rotations done by this process, by alg and how they were asked for "
    "(scheduled, or by an operator).",
    ["alg", "trigger"],
    registry=REGISTRY,
)
KEY_RING_RELOADS = Counter(
    "issuer_key_ring_reloads_total",
    "Reloads of this process's key ring from the database, by result: changed, unchanged, "
    "failed (the last ring is kept).",
    ["result"],
    registry=REGISTRY,
)
JWKS_BYTES = Gauge(
    "issuer_jwks_bytes", "Size of the published JWK Set document.", registry=REGISTRY
)
JWKS_KEYS = Gauge("issuer_jwks_keys", "Keys in the published JWK Set.", registry=REGISTRY)


class _SigningKeyAge(Collector):
    """`issuer_signing_key_age_seconds{alg}`: how long the active key of each alg has been
    signing, as of the scrape (set from the ring this process holds)."""

    def __init__(self) -> None:
        self.activated: Mapping[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "issuer_signing_key_age_seconds",
            "Seconds since the active signing key of each alg was activated.",
            labels=["alg"],
        )
        now = time.time()
        for alg, since in sorted(self.activated.items()):
            family.add_metric([alg], max(0.0, now - since))
        yield family


_SIGNING_KEY_AGE = _SigningKeyAge()
REGISTRY.register(_SIGNING_KEY_AGE)


def watch_signing_keys(activated: Mapping[str, datetime], *, jwks: bytes, keys: int) -> None:
    """A new key ring: its active keys' activation times (by alg) and its JWKS size."""
    _SIGNING_KEY_AGE.activated = {alg: when.timestamp() for alg, when in activated.items()}
    JWKS_BYTES.set(len(jwks))
    JWKS_KEYS.set(keys)
