"""The JWKS cache: freshness from Cache-Control, revalidation by ETag, one refetch per
cool-down for unknown kids (single-flight), and stale-if-error up to a hard limit."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from issuer.jose.errors import Reason, VerificationError
from issuer.jose.keys import VerificationKey, parse_jwks

from ._http import discovery_url, freshness, jwks_document, jwks_uri_from

__all__ = ["CachePolicy", "KeyCache", "StaticKeys"]

log = logging.getLogger("issuer.verify")


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Timing knobs, in seconds. Max-age is clamped so no header can make every request
    a fetch (min) or pin a key for ever (max)."""

    cooldown: float = 30.0
    default_ttl: float = 300.0
    min_ttl: float = 10.0
    max_ttl: float = 86400.0
    stale_if_error: float = 3600.0
    """How long past its freshness a JWKS may still be used while the issuer is down
    (RFC 5861 §4)."""


class KeyCache:
    """Keys by kid, fetched through discovery. Sync and async callers share one state."""

    def __init__(
        self,
        issuer_url: str,
        clock: Callable[[], float],
        policy: CachePolicy,
        client: Callable[[], httpx.Client],
        async_client: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._issuer_url = issuer_url
        self._clock = clock
        self._policy = policy
        self._client = client
        self._async_client = async_client
        self._jwks_uri: str | None = None
        self._keys: dict[str, VerificationKey] = {}
        self._etag: str | None = None
        self._fresh_until = -math.inf
        self._usable_until = -math.inf
        self._last_kid_refetch = -math.inf
        self._generation = 0
        self._lock = threading.Lock()
        self._async_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.fetches = 0
        """JWKS requests made, for metrics and tests."""

    def _needs_fetch(self, kid: str, now: float) -> bool:
        if now >= self._fresh_until:
            return True
        # An unknown kid may mean a rotation we have not seen: refetch, at most once
        # per cool-down, so a flood of invented kids cannot become a flood of fetches.
        return kid not in self._keys and now - self._last_kid_refetch >= self._policy.cooldown

    def _lookup(self, kid: str, now: float) -> VerificationKey:
        if now >= self._usable_until:
            raise VerificationError(Reason.JWKS_UNAVAILABLE, "no JWKS within its limit")
        key = self._keys.get(kid)
        if key is None:
            raise VerificationError(Reason.UNKNOWN_KID, kid)
        return key

    def get(self, kid: str) -> VerificationKey:
        now = self._clock()
        if self._needs_fetch(kid, now):
            generation = self._generation
            with self._lock:
                if self._should_fetch(kid, generation):
                    self._fetch()
                    self._generation += 1
            now = self._clock()
        return self._lookup(kid, now)

    async def aget(self, kid: str) -> VerificationKey:
        now = self._clock()
        if self._needs_fetch(kid, now):
            generation = self._generation
            async with self._async_lock():
                if self._should_fetch(kid, generation):
                    await self._afetch()
                    self._generation += 1
            now = self._clock()
        return self._lookup(kid, now)

    def _should_fetch(self, kid: str, generation: int) -> bool:
        # Single flight: a caller that waited while another fetched uses that result.
        return generation == self._generation and self._needs_fetch(kid, self._clock())

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            self._async_locks = {loop: (lock := asyncio.Lock())}
        return lock

    def _fetch(self) -> None:
        self._begin()
        try:
            client = self._client()
            if self._jwks_uri is None:
                response = client.get(discovery_url(self._issuer_url))
                self._jwks_uri = jwks_uri_from(response, self._issuer_url)
            self.fetches += 1
            self._apply(client.get(self._jwks_uri, headers=self._conditional()))
        except (httpx.HTTPError, VerificationError, ValueError) as error:
            self._failed(error)

    async def _afetch(self) -> None:
        self._begin()
        try:
            client = self._async_client()
            if self._jwks_uri is None:
                response = await client.get(discovery_url(self._issuer_url))
                self._jwks_uri = jwks_uri_from(response, self._issuer_url)
            self.fetches += 1
            self._apply(await client.get(self._jwks_uri, headers=self._conditional()))
        except (httpx.HTTPError, VerificationError, ValueError) as error:
            self._failed(error)

    def _begin(self) -> None:
        now = self._clock()
        if now < self._fresh_until:  # fresh keys, so this fetch is for an unknown kid
            self._last_kid_refetch = now

    def _conditional(self) -> dict[str, str]:
        # RFC 9110 §13.1.2: revalidate with the ETag; a 304 keeps the keys we have.
        return {"If-None-Match": self._etag} if self._etag and self._keys else {}

    def _apply(self, response: httpx.Response) -> None:
        if response.status_code != 304 or not self._keys:
            self._keys = parse_jwks(jwks_document(response))
            self._etag = response.headers.get("etag")
        policy = self._policy
        ttl = freshness(response, policy.default_ttl)
        ttl = policy.min_ttl if ttl is None else min(max(ttl, policy.min_ttl), policy.max_ttl)
        now = self._clock()
        self._fresh_until = now + ttl
        self._usable_until = self._fresh_until + policy.stale_if_error

    def _failed(self, error: Exception) -> None:
        # Keep serving the last good keys (until _usable_until); retry after the cool-down.
        log.warning("JWKS refresh from %s failed: %s", self._issuer_url, error)
        self._fresh_until = self._last_kid_refetch = self._clock() + self._policy.cooldown


class StaticKeys:
    """A fixed JWK Set: for air-gapped services and tests; never fetches."""

    fetches = 0

    def __init__(self, keys: dict[str, VerificationKey]) -> None:
        self._keys = keys

    def get(self, kid: str) -> VerificationKey:
        key = self._keys.get(kid)
        if key is None:
            raise VerificationError(Reason.UNKNOWN_KID, kid)
        return key

    async def aget(self, kid: str) -> VerificationKey:
        return self.get(kid)
