"""The ring a process serves changes with time alone: a retired key leaves the JWKS when
its `unpublish_after` passes, with no change in the database."""

from __future__ import annotations

from pathlib import Path

import httpx

from issuer.app import create_app
from issuer.keyring.rotation import rotate
from tests.conftest import make_settings
from tests.keyring.clock import ManualClock


async def test_a_retired_key_leaves_the_served_jwks_when_its_tokens_have_expired(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path / "k", ISSUER_ACCESS_TOKEN_TTL=60, ISSUER_REFRESH_TOKEN_TTL=60
    )
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        runtime = app.state.runtime
        result = await rotate(
            runtime.database,
            settings=settings,
            kek=runtime.kek,
            alg="EdDSA",
            force=True,
            now=clock(),
            actor="t",
        )
        await runtime.keys.refresh()
        served = await c.get("/.well-known/jwks.json")
        assert result.retired in {k["kid"] for k in served.json()["keys"]}
        clock.advance(60 + 5 * 60)  # the longest token lifetime plus the margin
        await runtime.keys.refresh()  # what the poll does: rebuild the ring at `now`
        after = await c.get("/.well-known/jwks.json")
        assert result.retired not in {k["kid"] for k in after.json()["keys"]}
        assert after.headers["etag"] != served.headers["etag"]
