"""Issue 11.12: RFC 6750 §3.1, a request without any authentication gets a challenge with
no error code; a request with a bad credential gets `error="invalid_token"`."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.settings import Settings
from tests.conftest import make_settings
from tests.oauth.support import serving

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize("path", ["/userinfo", "/admin/keys", "/admin/users"])
async def test_no_credentials_get_a_bare_challenge(client: Client, path: str) -> None:
    for headers in ({}, {"Authorization": ""}, {"Authorization": "  "}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == 'Bearer realm="issuer"'
        assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("path", ["/userinfo", "/admin/keys"])
@pytest.mark.parametrize("authorization", ["Bearer garbage", "Bearer ", "Basic abc"])
async def test_a_bad_credential_names_the_error(
    client: Client, path: str, authorization: str
) -> None:
    response = await client.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="issuer", error="invalid_token"'), challenge


async def test_metrics_behind_a_token_challenges_the_same_way(
    settings: Settings, tmp_path: Path
) -> None:
    token = "scrape-me-0123456789abcdef"
    guarded = make_settings(settings.database_url, tmp_path / "keys", ISSUER_METRICS_TOKEN=token)
    async with serving(guarded) as (client, _):
        bare = await client.get("/metrics")
        assert bare.status_code == 401
        assert bare.headers["www-authenticate"] == 'Bearer realm="issuer"'
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
