"""A test-local issuer: discovery + JWKS over an httpx MockTransport, real keys, real
signatures (made with `cryptography`, independently of the joserfc under test).

`IssuerHandle` is the seam: once the real issuer app exists, a fixture can build one from
it (issuer_url, a mint function, clients bound to the app) and every verify test runs on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ISSUER_URL = "https://issuer.test/tenant-a"
AUDIENCE = "orders-api"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


class Clock:
    """The injected clock: tests move time, nothing sleeps."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SigningKey:
    """A private key, its public JWK (kid = RFC 7638 thumbprint) and its signer."""

    alg: str
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.jwk["kid"])

    def sign(self, signing_input: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return self.private.sign(signing_input)

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        if alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        jwk = public_jwk(private)
        jwk.update(kid=thumbprint(jwk), alg=alg, use="sig")
        return cls(alg, private, jwk)


def _uint(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    """RFC 7518 §6.3.1 / RFC 8037 §2 public members, built without joserfc."""
    if isinstance(private, rsa.RSAPrivateKey):
        numbers = private.public_key().public_numbers()
        return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 of the required members, sorted, no whitespace."""
    required = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def sign_token(header: dict[str, Any], claims: dict[str, Any], key: SigningKey) -> str:
    signing_input = f"{b64_json(header)}.{b64_json(claims)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


@dataclass
class IssuerDouble:
    """Serves discovery and the JWKS like the real issuer (Cache-Control, ETag, 304)."""

    clock: Clock
    issuer_url: str = ISSUER_URL
    published: list[SigningKey] = field(default_factory=list)
    max_age: int = 300
    down: bool = False
    jwks_requests: int = 0
    not_modified: int = 0
    latency: float = 0.01

    def jwks_body(self) -> bytes:
        return json.dumps({"keys": [k.jwk for k in self.published]}).encode()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("issuer down", request=request)
        base = httpx.URL(self.issuer_url).path.rstrip("/")
        if request.url.path == f"{base}/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery())
        if request.url.path == f"{base}/.well-known/jwks.json":
            self.jwks_requests += 1
            body = self.jwks_body()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers = {"Cache-Control": f"public, max-age={self.max_age}", "ETag": etag}
            if request.headers.get("if-none-match") == etag:
                self.not_modified += 1
                return httpx.Response(304, headers=headers)
            headers["Content-Type"] = "application/jwk-set+json"
            return httpx.Response(200, content=body, headers=headers)
        return httpx.Response(404)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        """The same, with network latency, so concurrent callers really overlap."""
        await asyncio.sleep(self.latency)
        return self.handle(request)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_url,
            "jwks_uri": f"{self.issuer_url}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
        }


@dataclass
class IssuerHandle:
    """What verify tests need from an issuer, live or double."""

    issuer_url: str
    audience: str
    mint: Callable[..., str]
    client: Callable[[], httpx.Client]
    async_client: Callable[[], httpx.AsyncClient]
    double: IssuerDouble


def make_handle(double: IssuerDouble, active: dict[str, SigningKey]) -> IssuerHandle:
    def mint(
        alg: str = "RS256",
        *,
        key: SigningKey | None = None,
        header: dict[str, Any] | None = None,
        typ: str = "at+jwt",
        **overrides: Any,
    ) -> str:
        """A token as the issuer signs it; overrides replace claims (None removes one)."""
        signer = key or active[alg]
        now = int(double.clock())
        claims: dict[str, Any] = {
            "iss": double.issuer_url,
            "sub": "user-42",
            "aud": AUDIENCE,
            "exp": now + 900,
            "iat": now,
            "nbf": now,
            "jti": uuid.uuid4().hex,
            "client_id": "web-app",
            "scope": "orders:read profile",
            "roles": ["customer"],
            "sid": "family-1",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        head = {"alg": alg, "kid": signer.kid, "typ": typ, **(header or {})}
        return sign_token({k: v for k, v in head.items() if v is not None}, claims, signer)

    return IssuerHandle(
        issuer_url=double.issuer_url,
        audience=AUDIENCE,
        mint=mint,
        client=lambda: httpx.Client(transport=httpx.MockTransport(double.handle)),
        async_client=lambda: httpx.AsyncClient(transport=httpx.MockTransport(double.ahandle)),
        double=double,
    )
