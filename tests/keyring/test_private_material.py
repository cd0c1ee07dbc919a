"""Private key material never leaves: not in any HTTP response, not in any log line, and
not in the clear in the database; a wrong key-encryption key stops the process."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from litestar import Litestar

from issuer.app import create_app
from issuer.keyring.material import KeyDecryptionError, decrypt_private_key
from issuer.keyring.rotation import revoke, rotate
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import signing_keys
from issuer.store.database import Database
from tests.conftest import make_settings

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


async def secrets_of_every_key(settings: Settings, kek: bytes) -> list[bytes]:
    """For every stored key: its private JWK values, PKCS#8 DER (raw, base64) and PEM."""
    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            rows = await signing_keys.all_keys(session)
    finally:
        await database.dispose()
    needles: list[bytes] = []
    for row in rows:
        material = decrypt_private_key(row.kid, row.alg, row.private_blob, kek)
        private = material.key.as_dict(private=True)
        needles += [str(private[m]).encode() for m in PRIVATE_MEMBERS if m in private]
        der = material.key.private_key.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        needles += [der, base64.b64encode(der)[16:80], der.hex().encode()[32:160]]
    return needles


async def test_no_response_and_no_log_line_carries_private_key_material(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Litestar's logging config replaces the root handlers at start; listen on ours directly.
    issuer_log = logging.getLogger("issuer")
    issuer_log.addHandler(caplog.handler)
    issuer_log.setLevel(logging.DEBUG)
    settings = make_settings(database_url, tmp_path / "k")
    app = create_app(settings)
    bodies: list[bytes] = []
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url=settings.url) as c:
        runtime: Runtime = app.state.runtime

        async def sweep() -> None:
            for path in (
                "/.well-known/jwks.json",
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server",
                "/healthz",
                "/readyz",
                "/schema/openapi.json",
                "/nowhere",
            ):
                response = await c.get(path)
                bodies.append(response.content + str(response.headers).encode())

        await sweep()
        kek, now = runtime.kek, runtime.clock()
        for alg in settings.signing_algs:
            result = await rotate(
                runtime.database,
                settings=settings,
                kek=kek,
                alg=alg,
                force=True,
                now=now,
                actor="t",
            )
            await revoke(
                runtime.database,
                settings=settings,
                kek=kek,
                kid=str(result.activated),
                now=now,
                actor="t",
            )
        await runtime.keys.refresh()
        await sweep()
    issuer_log.removeHandler(caplog.handler)
    issuer_log.setLevel(logging.NOTSET)
    needles = await secrets_of_every_key(settings, kek)
    assert len(needles) > 40
    logged = "\n".join(record.getMessage() for record in caplog.records).encode()
    logged += caplog.text.encode()
    assert b"key ring changed" in logged or b"rotated" in logged  # the log was captured
    for haystack in [*bodies, logged]:
        assert b"PRIVATE KEY" not in haystack
        for needle in needles:
            assert needle not in haystack
    for body in bodies[:1] + bodies[7:8]:
        for member in PRIVATE_MEMBERS:
            assert f'"{member}":'.encode() not in body


async def test_the_stored_blob_is_not_the_key(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "k")
    app = create_app(settings)
    async with app.lifespan():
        kek = app.state.runtime.kek
    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            rows = await signing_keys.all_keys(session)
    finally:
        await database.dispose()
    assert len(rows) == 4
    needles = await secrets_of_every_key(settings, kek)
    for row in rows:
        assert not row.private_blob.startswith(b"0\x82")  # not a DER SEQUENCE
        assert not any(needle in row.private_blob for needle in needles)
        assert not set(row.public_jwk) & set(PRIVATE_MEMBERS)
        with pytest.raises(KeyDecryptionError):
            decrypt_private_key(row.kid, row.alg, row.private_blob, bytes(32))


def wrong_kek_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "other")  # a fresh random ISSUER_KEK


async def test_a_wrong_kek_fails_loudly_at_start(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path / "k"))
    async with app.lifespan():
        pass
    stranger: Litestar = create_app(wrong_kek_settings(database_url, tmp_path))
    with pytest.raises(BaseException) as caught:
        async with stranger.lifespan():
            pass
    # The lifespan runs in a task group, which wraps the error in an exception group.
    error = caught.value
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, KeyDecryptionError)
    assert "key-encryption key" in str(error)
