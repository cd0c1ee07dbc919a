"""Prometheus metrics, one registry per process (served at /metrics).

With several workers each process has its own counters; scrape each, or run one worker per
container as is usual behind a load balancer.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = [
    "CLEANUP_DELETED",
    "LOGIN_FAILURES",
    "REFRESH_REUSE",
    "REGISTRY",
    "REQUEST_LATENCY",
    "REVOCATIONS",
    "TOKENS_ISSUED",
]

REGISTRY = CollectorRegistry(auto_describe=True)

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
