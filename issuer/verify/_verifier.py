"""Verifier: the public entry point tying parsing, keys and claims together."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx

from issuer.jose.algs import JWS_ALGS, SIGNING_ALGS, with_aliases
from issuer.jose.claims import AccessTokenClaims, validate_claims
from issuer.jose.jws import Parser, verify_signature
from issuer.jose.keys import parse_jwks

from ._cache import CachePolicy, KeyCache, StaticKeys
from ._http import require_secure

__all__ = ["Verifier"]

HTTP_TIMEOUT = httpx.Timeout(5.0)
DEFAULT_CACHE_POLICY = CachePolicy()


class Verifier:
    """Verifies the issuer's access tokens locally (RFC 9068 §4) with cached public keys.

    `algorithms` is the allow-list: a token whose header names anything else is refused
    before a key is looked at (RFC 8725 §3.1). `EdDSA` and `Ed25519` count as one entry.
    """

    def __init__(
        self,
        issuer_url: str,
        audience: str | Collection[str],
        *,
        algorithms: Collection[str] = SIGNING_ALGS,
        leeway: float = 10.0,
        clock: Callable[[], float] = time.time,
        cache: CachePolicy = DEFAULT_CACHE_POLICY,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        jwks: Mapping[str, Any] | None = None,
    ) -> None:
        if not algorithms or not JWS_ALGS.issuperset(algorithms):
            raise ValueError(f"algorithms must be a subset of {sorted(JWS_ALGS)}")
        audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        if not audiences or not all(audiences):
            raise ValueError("audience is required (RFC 9068 §4)")
        self.issuer_url = issuer_url if jwks is not None else require_secure(issuer_url)
        self.audiences = frozenset(audiences)
        # RFC 9864 §2: allowing `EdDSA` allows `Ed25519` and back (the key must still be
        # OKP/Ed25519).
        self._parser = Parser(with_aliases(algorithms))
        self.leeway = leeway
        self._clock = clock
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._owned: list[httpx.Client | httpx.AsyncClient] = []
        self._keys: KeyCache | StaticKeys = (
            StaticKeys(parse_jwks(jwks))
            if jwks is not None
            else KeyCache(issuer_url, clock, cache, self._client, self._async_client)
        )

    @classmethod
    def from_jwks(
        cls,
        jwks: Mapping[str, Any],
        issuer_url: str,
        audience: str | Collection[str],
        **options: Any,
    ) -> Verifier:
        """A verifier that never fetches: for air-gapped services and tests."""
        return cls(issuer_url, audience, jwks=jwks, **options)

    @property
    def algorithms(self) -> frozenset[str]:
        """The pinned allow-list (read-only: the parser's header verdicts depend on it)."""
        return self._parser.algorithms

    @property
    def jwks_fetches(self) -> int:
        """How many JWKS requests this verifier has made."""
        return self._keys.fetches

    def verify(self, token: str) -> AccessTokenClaims:
        """Verify synchronously; may block on a JWKS fetch when the cache needs one."""
        parsed = self._parser.parse(token)
        verify_signature(parsed, self._keys.get(parsed.kid))
        return self._claims(parsed.payload)

    async def averify(self, token: str) -> AccessTokenClaims:
        """Verify from async code; JWKS fetches go through the async client."""
        parsed = self._parser.parse(token)
        verify_signature(parsed, await self._keys.aget(parsed.kid))
        return self._claims(parsed.payload)

    def _claims(self, payload: Mapping[str, Any]) -> AccessTokenClaims:
        return validate_claims(
            payload,
            issuer=self.issuer_url,
            audiences=self.audiences,
            now=self._clock(),
            leeway=self.leeway,
        )

    def _client(self) -> httpx.Client:
        if self._http_client is None:
            self._http_client = httpx.Client(timeout=HTTP_TIMEOUT)
            self._owned.append(self._http_client)
        return self._http_client

    def _async_client(self) -> httpx.AsyncClient:
        if self._async_http_client is None:
            self._async_http_client = httpx.AsyncClient(timeout=HTTP_TIMEOUT)
            self._owned.append(self._async_http_client)
        return self._async_http_client

    def close(self) -> None:
        """Close the sync HTTP client this verifier created (not ones passed in)."""
        for client in self._owned:
            if isinstance(client, httpx.Client):
                client.close()

    async def aclose(self) -> None:
        """Close every HTTP client this verifier created (not ones passed in)."""
        for client in self._owned:
            if isinstance(client, httpx.AsyncClient):
                await client.aclose()
            else:
                client.close()
        self._owned.clear()
