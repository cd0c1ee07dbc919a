"""/metrics: Prometheus text with the issuer's counters and the request-latency histogram."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

Client = AsyncTestClient[Litestar]


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def latency_count(samples: dict, route: str, status: str) -> float:  # type: ignore[type-arg]
    key = ("issuer_request_duration_seconds_count", (("route", route), ("status", status)))
    return samples.get(key, 0.0)


async def test_exposition_has_the_counters_and_histogram(client: Client) -> None:
    text = (await client.get("/metrics")).text
    for name in (
        "issuer_tokens_issued_total",
        "issuer_refresh_reuse_detected_total",
        "issuer_login_failures_total",
        "issuer_revocations_total",
        "issuer_cleanup_deleted_rows_total",
        "issuer_request_duration_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


async def test_latency_is_recorded_by_route_template_and_status_class(
    client: Client, admin_headers: dict[str, str]
) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    user_ids = [str(uuid.uuid4()) for _ in range(2)]
    for user_id in user_ids:
        missing = await client.post(f"/admin/users/{user_id}/enable", headers=admin_headers)
        assert missing.status_code == 404
    assert (await client.get("/admin/keys")).status_code == 401
    after = await scrape(client)

    def delta(route: str, status: str) -> float:
        return latency_count(after, route, status) - latency_count(before, route, status)

    assert delta("/healthz", "2xx") == 3
    assert delta("/admin/users/{user_id}/enable", "4xx") == 2
    assert delta("/admin/keys", "4xx") == 1
    # The raw path never becomes a label value, so the label set stays bounded.
    text = (await client.get("/metrics")).text
    assert not any(user_id in text for user_id in user_ids)


async def test_metrics_is_served_at_the_root_and_not_in_the_schema(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
    assert (await client.get("/metrics")).headers["cache-control"] == "no-store"


async def test_the_jwks_fast_path_is_timed_like_any_route(client: Client) -> None:
    before = await scrape(client)
    first = await client.get("/.well-known/jwks.json")
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = await client.get("/.well-known/jwks.json", headers={"if-none-match": etag})
    assert again.status_code == 304
    after = await scrape(client)
    route = "/.well-known/jwks.json"
    assert latency_count(after, route, "2xx") - latency_count(before, route, "2xx") == 1
    assert latency_count(after, route, "3xx") - latency_count(before, route, "3xx") == 1
