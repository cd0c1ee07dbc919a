"""ISSUER_METRICS_TOKEN: /metrics off the public listener, behind a bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.settings import ConfigError, Settings
from tests.conftest import make_settings
from tests.oauth.support import serving

TOKEN = "scrape-me-0123456789abcdef"


async def test_with_a_token_metrics_answers_only_its_bearer(
    settings: Settings, tmp_path: Path
) -> None:
    guarded = make_settings(settings.database_url, tmp_path / "keys", ISSUER_METRICS_TOKEN=TOKEN)
    async with serving(guarded) as (client, _):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["error"] == "invalid_token"
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "issuer_" not in refused.text
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200 and "issuer_login_failures" in allowed.text
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("value", ["short", "has a space in it 0123", "tab\there0123456789"])
def test_a_weak_or_malformed_token_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^ISSUER_METRICS_TOKEN must be"):
        Settings.from_env({"ISSUER_METRICS_TOKEN": value})


def test_the_token_is_not_in_the_settings_repr() -> None:
    assert TOKEN not in repr(Settings.from_env({"ISSUER_METRICS_TOKEN": TOKEN}))
