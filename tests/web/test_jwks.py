"""GET /.well-known/jwks.json: public members only, caching headers, ETag and 304."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.web.jwks import etag_matches

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


async def test_jwks_serves_every_published_key_with_public_members_only(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = json.loads(response.content)["keys"]
    # An active and a pre-published next key per configured alg.
    assert sorted(k["alg"] for k in keys) == ["EdDSA", "EdDSA", "RS256", "RS256"]
    for jwk in keys:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig" and jwk["kid"] and jwk["kty"] in ("RSA", "OKP")


async def test_etag_is_strong_and_a_matching_if_none_match_gets_304(
    client: AsyncTestClient[Litestar],
) -> None:
    first = await client.get("/.well-known/jwks.json")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for condition in (etag, f'"other", {etag}', f"W/{etag}", "*", f'"a",W/{etag} , "b"'):
        again = await client.get("/.well-known/jwks.json", headers={"If-None-Match": condition})
        assert again.status_code == 304, condition
        assert again.content == b""
        # RFC 9110 §15.4.5: the validators and Cache-Control a 200 would have carried.
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=300"
    stale = await client.get("/.well-known/jwks.json", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content


async def test_head_has_the_headers_and_other_methods_are_refused(
    client: AsyncTestClient[Litestar],
) -> None:
    head = await client.head("/.well-known/jwks.json")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    post = await client.post("/.well-known/jwks.json")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert post.json()["error"] == "method_not_allowed"  # JSON, as at every other endpoint


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ('"ab"', False),
        ("abc", False),
        ("", False),
    ],
)
def test_if_none_match_uses_weak_comparison_over_a_list(header: str, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


async def test_jwks_max_age_follows_the_setting(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from issuer.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url, tmp_path / "keys", ISSUER_JWKS_MAX_AGE=42))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=42"


async def test_jwks_under_the_issuer_path_prefix(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    from issuer.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(
        database_url, tmp_path / "keys", ISSUER_URL="http://127.0.0.1:8000/tenant-a"
    )
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        served = await client.get("/tenant-a/.well-known/jwks.json")
        head = await client.head("/tenant-a/.well-known/jwks.json")
        bare = await client.get("/.well-known/jwks.json")
    assert served.status_code == 200 and served.json()["keys"]
    assert head.status_code == 200 and head.headers["etag"] == served.headers["etag"]
    assert bare.status_code == 404  # the JWKS lives under the issuer's path only
