"""Independent JOSE libraries accept our tokens with nothing but the published JWKS."""

from __future__ import annotations

import json
from typing import Any

import jwt as pyjwt
import pytest
from jwcrypto import jwk as jc_jwk
from jwcrypto import jwt as jc_jwt
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.oauth.support import API, add_client, add_user, login

ALGS = ["RS256", "EdDSA"]


async def tokens_and_jwks(
    client: AsyncTestClient[Litestar], runtime: Runtime, database: Database, alg: str
) -> tuple[str, dict[str, Any]]:
    await add_user(database, runtime)
    secret = await add_client(database, runtime, alg=alg)
    token = (await login(client, secret)).json()["access_token"]
    published = await client.get("/.well-known/jwks.json")
    assert published.status_code == 200
    return token, json.loads(published.content)


def pyjwt_decode(token: str, jwks: dict[str, Any], *, audience: str, issuer: str) -> Any:
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = pyjwt.PyJWKSet.from_dict(jwks)[kid]
    return pyjwt.decode(
        token,
        key.key,
        algorithms=["RS256", "EdDSA"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def jwcrypto_decode(token: str, jwks: dict[str, Any], *, audience: str, issuer: str) -> Any:
    keys = jc_jwk.JWKSet.from_json(json.dumps(jwks))
    checked = jc_jwt.JWT(
        jwt=token,
        key=keys,
        algs=["RS256", "EdDSA"],
        check_claims={"iss": issuer, "aud": audience, "exp": None},
    )
    return json.loads(checked.claims)


@pytest.mark.parametrize("alg", ALGS)
async def test_pyjwt_accepts_with_the_jwks_and_rejects_other_audience_or_issuer(
    client: AsyncTestClient[Litestar], runtime: Runtime, database: Database, alg: str
) -> None:
    token, jwks = await tokens_and_jwks(client, runtime, database, alg)
    issuer = runtime.settings.url
    claims = pyjwt_decode(token, jwks, audience=API, issuer=issuer)
    assert claims["client_id"] == "web"
    assert pyjwt.get_unverified_header(token)["typ"] == "at+jwt"
    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt_decode(token, jwks, audience="https://other.example.com", issuer=issuer)
    with pytest.raises(pyjwt.InvalidIssuerError):
        pyjwt_decode(token, jwks, audience=API, issuer="https://evil.example.com")


@pytest.mark.parametrize("alg", ALGS)
async def test_jwcrypto_accepts_with_the_jwks_and_rejects_other_audience_or_issuer(
    client: AsyncTestClient[Litestar], runtime: Runtime, database: Database, alg: str
) -> None:
    token, jwks = await tokens_and_jwks(client, runtime, database, alg)
    issuer = runtime.settings.url
    assert jwcrypto_decode(token, jwks, audience=API, issuer=issuer)["aud"] == API
    with pytest.raises(jc_jwt.JWTInvalidClaimValue):
        jwcrypto_decode(token, jwks, audience="https://other.example.com", issuer=issuer)
    with pytest.raises(jc_jwt.JWTInvalidClaimValue):
        jwcrypto_decode(token, jwks, audience=API, issuer="https://evil.example.com")
