"""Rotation without a single failed verification, and what a forced rotation breaks.

The app mints tokens continuously with a hand-moved clock while an operator (another
process: its own Database) rotates as soon as rotation is allowed. Verifiers fetch the JWKS
over HTTP from the app, at the default-like max-age of 60 s and at a short one (10 s):
- `StrictCache` caches exactly as long as Cache-Control allows and never refetches early,
  not even for an unknown kid: the strictest reading of the caching rules, so any gap in
  the publication schedule shows as a failure;
- `CoolDownCache`, jose's `createRemoteJWKSet`: ignores Cache-Control, keeps a JWKS 10 min
  and refetches for an unknown kid at most once per 30 s;
- PyJWT's own `PyJWKClient` (the same 30 s cool-down, a 300 s cache), over a real socket;
- `issuer.verify.Verifier`, the library resource servers use.
With a short max-age only the promotion wait's floor of the 30 s cool-down keeps the last
two at zero failures (`publication_delay`).
"""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from litestar import Litestar

from issuer.app import create_app
from issuer.keyring.rotation import RotationOutcome, rotate
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store.database import Database
from issuer.verify import Reason, VerificationError, Verifier
from tests.conftest import make_settings
from tests.keyring.clock import ManualClock, drive_pyjwt

AUDIENCE = "orders"
ALGS = ("RS256", "EdDSA")
SECONDS = 600


@dataclass
class StrictCache:
    """A resource server's JWKS cache: refetch only when Cache-Control says it is stale."""

    http: httpx.AsyncClient
    clock: ManualClock
    issuer: str
    fresh_until: float = -1.0
    verifier: Verifier | None = None
    fetches: int = 0
    failures: list[str] = field(default_factory=list)

    async def verify(self, token: str) -> None:
        now = self.clock.timestamp()
        if self.verifier is None or now >= self.fresh_until:
            response = await self.http.get("/.well-known/jwks.json")
            max_age = re.search(r"max-age=(\d+)", response.headers["cache-control"])
            assert max_age is not None
            self.fresh_until = now + int(max_age.group(1))
            self.verifier = Verifier.from_jwks(
                response.json(), self.issuer, AUDIENCE, clock=self.clock.timestamp
            )
            self.fetches += 1
        try:
            self.verifier.verify(token)
        except VerificationError as error:
            self.failures.append(f"{error.reason} at {self.clock()}")


@dataclass
class CoolDownCache:
    """jose's `createRemoteJWKSet` (its defaults): a JWKS is kept for `cache_max_age`
    whatever Cache-Control says; an unknown kid refetches only once `cooldown` has passed
    since the last fetch."""

    http: httpx.AsyncClient
    clock: ManualClock
    issuer: str
    cache_max_age: float = 600.0
    cooldown: float = 30.0
    fetched_at: float = -math.inf
    kids: set[str] = field(default_factory=set)
    verifier: Verifier | None = None
    fetches: int = 0
    failures: list[str] = field(default_factory=list)

    async def fetch(self) -> None:
        jwks = (await self.http.get("/.well-known/jwks.json")).json()
        self.kids = {key["kid"] for key in jwks["keys"]}
        self.verifier = Verifier.from_jwks(jwks, self.issuer, AUDIENCE, clock=self.clock.timestamp)
        self.fetched_at = self.clock.timestamp()
        self.fetches += 1

    async def verify(self, token: str) -> None:
        since = self.clock.timestamp() - self.fetched_at
        unknown = jwt.get_unverified_header(token)["kid"] not in self.kids
        if since >= self.cache_max_age or (unknown and since >= self.cooldown):
            await self.fetch()
        assert self.verifier is not None
        try:
            self.verifier.verify(token)
        except VerificationError as error:
            self.failures.append(f"{error.reason} at {self.clock()}")


@dataclass
class PyJWTVerifier:
    """A resource server verifying with PyJWT's `PyJWKClient` (its defaults), which fetches
    the JWKS with urllib over a real socket and runs in a thread, as it blocks."""

    client: jwt.PyJWKClient
    issuer: str
    failures: list[str] = field(default_factory=list)

    async def verify(self, token: str) -> None:
        await asyncio.to_thread(self._verify, token)

    def _verify(self, token: str) -> None:
        try:
            key = self.client.get_signing_key_from_jwt(token)
            # The time claims follow the hand-moved clock, which PyJWT's own checks cannot
            # read; the verifiers above check them. This one is about keys.
            jwt.decode(
                token,
                key,
                algorithms=["RS256", "EdDSA"],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            self.failures.append(f"{type(error).__name__}: {error}")


@dataclass
class Issuer:
    app: Litestar
    client: httpx.AsyncClient
    clock: ManualClock
    settings: Settings
    jwks_uri: str  # the same app on a real socket

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def mint(self, alg: str) -> str:
        now = int(self.clock.timestamp())
        claims: dict[str, Any] = {
            "iss": self.settings.url,
            "sub": "svc",
            "aud": AUDIENCE,
            "client_id": "svc",
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.access_token_ttl,
            "jti": secrets.token_hex(8),
        }
        return self.runtime.keys.ring.sign(claims, typ="at+jwt", alg=alg)


@asynccontextmanager
async def running_issuer(
    database_url: str, tmp_path: Path, max_age: int = 60
) -> AsyncIterator[Issuer]:
    settings = make_settings(
        database_url,
        tmp_path / "keys",
        ISSUER_JWKS_MAX_AGE=max_age,
        ISSUER_RING_REFRESH_SECONDS=5,
        ISSUER_ACCESS_TOKEN_TTL=60,
        ISSUER_REFRESH_TOKEN_TTL=60,
    )
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    # The lifespan and every request run on the test's event loop (in the test's own task:
    # anyio's task group), so that the test may also drive the app's runtime directly; so
    # does uvicorn, serving the same app on a loopback socket for clients that block.
    transport = httpx.ASGITransport(app=app)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url=settings.url) as client,
    ):
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        try:
            while not server.started:
                assert not serving.done(), serving
                await asyncio.sleep(0.01)
            jwks_uri = f"http://127.0.0.1:{port}/.well-known/jwks.json"
            yield Issuer(app, client, clock, settings, jwks_uri)
        finally:
            server.should_exit = True
            await serving
            listener.close()


@pytest.mark.parametrize("max_age", [60, 10])
async def test_continuous_minting_through_rotations_never_fails_verification(
    database_url: str, tmp_path: Path, max_age: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_issuer(database_url, tmp_path, max_age) as issuer:
        drive_pyjwt(monkeypatch, issuer.clock)
        await _mint_and_rotate(issuer)


async def _mint_and_rotate(issuer: Issuer) -> None:
    settings, clock = issuer.settings, issuer.clock
    operator = Database(settings.database_url)
    # Resource servers that come up at different moments, so their caches expire out of step:
    # each kind of verifier, four times.
    caches: list[StrictCache | CoolDownCache | PyJWTVerifier] = []
    for _ in range(4):
        caches.append(StrictCache(issuer.client, clock, settings.url))
        caches.append(CoolDownCache(issuer.client, clock, settings.url))
        caches.append(PyJWTVerifier(jwt.PyJWKClient(issuer.jwks_uri), settings.url))
    library = Verifier(
        settings.url, AUDIENCE, clock=clock.timestamp, async_http_client=issuer.client
    )
    minted: list[tuple[float, str]] = []
    rotations: dict[str, int] = dict.fromkeys(ALGS, 0)
    checked = 0
    try:
        for second in range(1, SECONDS + 1):
            clock.advance(1)
            if second % 5 == 0:  # the poll, at its worst-case delay
                await issuer.runtime.keys.refresh()
            if second % 7 == 0:  # the operator tries to rotate, as often as allowed
                for alg in ALGS:
                    result = await rotate(
                        operator,
                        settings=settings,
                        kek=issuer.runtime.kek,
                        alg=alg,
                        now=clock(),
                        actor="operator",
                    )
                    rotations[alg] += result.rotated
            for alg in ALGS:
                minted.append((clock.timestamp(), issuer.mint(alg)))
            # Verify the new tokens and ones minted almost a lifetime ago (signed by keys
            # that have been retired since).
            oldest = clock.timestamp() - settings.access_token_ttl + 1
            due = [token for at, token in minted[-2:]] + [
                token for at, token in minted if oldest <= at < oldest + 1
            ]
            for token in due:
                for index, cache in enumerate(caches):
                    if second >= 13 * (index // 3):
                        await cache.verify(token)
                await library.averify(token)
                checked += 1
    finally:
        await operator.dispose()
    assert min(rotations.values()) >= 7, rotations
    failed = Counter(type(cache).__name__ for cache in caches for _ in cache.failures)
    assert failed == Counter(), (failed, [cache.failures[:2] for cache in caches])
    assert checked >= 2000
    # Retired keys left the JWKS once their tokens had expired (6 min with the margin).
    published = (await issuer.client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(published) < sum(rotations.values()) + 2 * len(ALGS)


async def test_a_forced_rotation_is_what_puts_an_unknown_kid_before_a_cached_jwks(
    database_url: str, tmp_path: Path
) -> None:
    async with running_issuer(database_url, tmp_path) as issuer:
        await _force_and_see_unknown_kid(issuer)


async def _force_and_see_unknown_kid(issuer: Issuer) -> None:
    settings, clock = issuer.settings, issuer.clock
    cache = StrictCache(issuer.client, clock, settings.url)
    await cache.verify(issuer.mint("EdDSA"))  # cached now: active and next keys, for 60 s
    operator = Database(settings.database_url)
    kek = issuer.runtime.kek

    async def rotate_eddsa(force: bool) -> RotationOutcome:
        return await rotate(
            operator, settings=settings, kek=kek, alg="EdDSA", force=force, now=clock(), actor="op"
        )

    try:
        # The cached next key signs: a forced rotation, but one the cache already knows.
        first = await rotate_eddsa(force=True)
        await issuer.runtime.keys.refresh()
        await cache.verify(issuer.mint("EdDSA"))
        assert first.rotated and cache.failures == []
        clock.advance(10)
        # The next key made by that rotation is 10 s old: the safe path waits …
        refused = await rotate_eddsa(force=False)
        assert refused.outcome == "too_early" and refused.next == first.next
        forced = await rotate_eddsa(force=True)
    finally:
        await operator.dispose()
    assert forced.rotated and forced.activated == first.next and forced.risk
    await issuer.runtime.keys.refresh()
    token = issuer.mint("EdDSA")
    # … and the forced one signs with a kid the cache (fresh for 50 s more) has never seen.
    await cache.verify(token)
    assert len(cache.failures) == 1, cache.failures
    assert cache.failures[0].startswith(Reason.UNKNOWN_KID.value), cache.failures
    assert cache.fetches == 1
    clock.advance(50)
    await cache.verify(token)  # once the cache expires, the new JWKS has the key
    assert len(cache.failures) == 1 and cache.fetches == 2
