"""/metrics: Prometheus text with the issuer's counters and the request-latency histogram."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import add_client, post_form

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
    unknown = f"/no-such-path/{user_ids[0]}"
    assert (await client.get(unknown)).status_code == 404
    after = await scrape(client)

    def delta(route: str, status: str) -> float:
        return latency_count(after, route, status) - latency_count(before, route, status)

    assert delta("/healthz", "2xx") == 3
    assert delta("/admin/users/{user_id}/enable", "4xx") == 2
    assert delta("/admin/keys", "4xx") == 1
    assert delta("unmatched", "4xx") == 1  # an unknown path: one label for them all
    # The raw path never becomes a label value, so the label set stays bounded.
    text = (await client.get("/metrics")).text
    assert not any(user_id in text for user_id in user_ids)


async def test_metrics_is_served_at_the_root_and_documented(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "200" in schema["paths"]["/metrics"]["get"]["responses"]
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


async def test_process_metrics_and_no_created_series(client: Client) -> None:
    text = (await client.get("/metrics")).text
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert f"\n{name}" in text, name
    assert "_created" not in text


async def test_signing_key_age_and_the_jwks_size(client: Client) -> None:
    jwks = await client.get("/.well-known/jwks.json")
    samples = await scrape(client)
    assert samples[("issuer_jwks_bytes", ())] == len(jwks.content)
    assert samples[("issuer_jwks_keys", ())] == len(jwks.json()["keys"]) == 4
    for alg in ("RS256", "EdDSA"):
        age = samples[("issuer_signing_key_age_seconds", (("alg", alg),))]
        assert 0 <= age < 60


async def test_rotations_and_ring_reloads_are_counted(
    client: Client, admin_headers: dict[str, str]
) -> None:
    def count(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    before = await scrape(client)
    rotated = await client.post(
        "/admin/keys/rotate", json={"alg": "EdDSA", "force": True}, headers=admin_headers
    )
    assert rotated.status_code == 200, rotated.text
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return count(after, name, **labels) - count(before, name, **labels)

    assert delta("issuer_key_rotations_total", alg="EdDSA", trigger="operator") == 1
    assert delta("issuer_key_rotations_total", alg="RS256", trigger="operator") == 0
    assert delta("issuer_key_ring_reloads_total", result="changed") == 1
    # One more published key (the new next); the retired one is still published.
    assert after[("issuer_jwks_keys", ())] == before[("issuer_jwks_keys", ())] + 1


async def test_the_token_endpoint_counts_requests_by_grant_type_and_error(
    client: Client, runtime: Runtime, database: Database
) -> None:
    secret = await add_client(database, runtime, "svc", grant_types=("client_credentials",))
    cc = {"grant_type": "client_credentials"}
    before = await scrape(client)
    assert (await post_form(client, "/oauth/token", cc, auth=("svc", secret))).status_code == 200
    assert (await post_form(client, "/oauth/token", cc, auth=("svc", "wrong"))).status_code == 401
    refused = await post_form(client, "/oauth/token", {"grant_type": "x"}, auth=("svc", secret))
    assert refused.json()["error"] == "unsupported_grant_type"
    after = await scrape(client)

    def delta(grant_type: str, error: str) -> float:
        key = ("issuer_token_requests_total", (("error", error), ("grant_type", grant_type)))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("client_credentials", "none") == 1
    assert delta("client_credentials", "invalid_client") == 1
    assert delta("other", "unsupported_grant_type") == 1
