"""Our own bounded fuzzer for the endpoints the OpenAPI-driven run does not generate well:
the bare protocol endpoints, the JWKS and discovery, against `issuer serve` on each
database. Random and hostile bytes, wrong content types, huge, NUL and non-UTF-8 fields,
garbage credentials, odd methods: every answer is below 500, and every error the app gives
is the RFC 6749 §5.2 JSON shape."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter
from typing import Any
from urllib.parse import quote_from_bytes

import httpx

from tests.fuzz.conftest import FuzzedIssuer

REQUESTS = 1500  # per database
CONCURRENCY = 8
ENDPOINTS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect", "/userinfo")
READ_ONLY = ("/.well-known/jwks.json", "/.well-known/openid-configuration")
FIELDS = (
    "grant_type", "client_id", "client_secret", "username", "password", "refresh_token",
    "scope", "audience", "resource", "token", "token_type_hint", "code", "redirect_uri",
)  # fmt: skip
GRANTS = ("password", "refresh_token", "client_credentials", "authorization_code", "", "x")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded\x00",
    "",
    None,
)


CONTROLS = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
# method, path and query, headers, body
Shape = tuple[str, str, dict[str, bytes], bytes]


class Fuzzer:
    """Seeded request shapes; `nasty` values cover NUL, non-UTF-8, huge and empty."""

    def __init__(self, seed: int, fuzzed: FuzzedIssuer) -> None:
        self.random = random.Random(seed)
        self.fuzzed = fuzzed

    def nasty(self) -> bytes:
        r = self.random
        return r.choice(
            [
                lambda: r.randbytes(r.randint(0, 64)),
                lambda: b"\x00" * r.randint(1, 8),
                lambda: "é✓".encode() * r.randint(1, 20),
                lambda: b"\xff\xfe\xc3\x28" * r.randint(1, 8),  # not UTF-8
                lambda: b"A" * r.choice([1024, 9000, 20_000, 70_000]),  # past every limit
                lambda: b"",
                lambda: r.choice(GRANTS).encode(),
                lambda: b"rt_" + base64.urlsafe_b64encode(r.randbytes(32)).rstrip(b"="),
                lambda: b"eyJhbGciOiJub25lIn0.e30.",  # alg none
                lambda: self.fuzzed.web_secret.encode(),
            ]
        )()

    def form(self) -> bytes:
        r = self.random
        pairs = []
        for _ in range(r.randint(0, 6)):
            name = r.choice(FIELDS).encode() if r.random() < 0.8 else self.nasty()[:40]
            pairs.append(quote_from_bytes(name) + "=" + quote_from_bytes(self.nasty()))
        if r.random() < 0.1:
            pairs.append("grant_type=password&grant_type=refresh_token")  # repeated
        if r.random() < 0.1:
            pairs.append("%ZZ=%")  # broken percent-encoding
        return "&".join(pairs).encode()

    def body(self) -> bytes:
        r = self.random
        return r.choice(
            [self.form, self.nasty, lambda: b'{"grant_type": "password"}', lambda: b"=&=&&"]
        )()

    def authorization(self) -> str | None:
        r = self.random
        credentials = r.choice(
            [
                lambda: base64.b64encode(b"web:" + self.fuzzed.web_secret.encode()).decode(),
                lambda: base64.b64encode(self.nasty()[:200]).decode(),
                lambda: "%%%not-base64",
                lambda: base64.b64encode(b"web").decode(),  # no colon
            ]
        )()
        return r.choice(
            [
                None,
                f"Basic {credentials}",
                f"Bearer {self.nasty()[:500].decode('latin-1')}",
                "Bearer ",
                "Basic",
                "Digest x",
                "Bearer " + "a" * 9000,
            ]
        )

    def request(self) -> Shape:
        r = self.random
        path = r.choice(ENDPOINTS + READ_ONLY)
        usual = "GET" if path in READ_ONLY else "POST"
        method = usual if r.random() < 0.8 else r.choice(METHODS)
        headers: dict[str, str] = {}
        content_type = r.choice(CONTENT_TYPES)
        if content_type is not None:
            headers["Content-Type"] = content_type
        authorization = self.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        if r.random() < 0.1:
            headers["X-Forwarded-For"] = self.nasty()[:100].decode("latin-1")
        if r.random() < 0.2:
            path += "?" + self.form().decode("latin-1")[:60_000]  # the client's URL limit
        # Any byte a header value may carry on the wire (RFC 9110 field-vchar: non-ASCII
        # included), not control characters or white space at its ends: the HTTP client
        # refuses to send those (and the server's parser refuses them before the app).
        raw = {
            name: value.encode("latin-1").translate(None, CONTROLS).strip(b" \t")
            for name, value in headers.items()
        }
        return method, path, raw, self.body() if method != "GET" else b""


def problems(method: str, path: str, response: httpx.Response) -> str | None:
    """What is wrong with this answer, if anything."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400 and method != "HEAD":
        try:
            body: Any = response.json()
        except ValueError:
            return f"{response.status_code} not JSON: {response.text[:200]!r}"
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            return f"{response.status_code} not an RFC 6749 error: {body!r}"
    return None


async def test_no_hostile_request_gets_a_server_error(fuzzed: FuzzedIssuer) -> None:
    fuzzer = Fuzzer(seed=13, fuzzed=fuzzed)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    limit = asyncio.Semaphore(CONCURRENCY)

    async def send(
        http: httpx.AsyncClient, shape: tuple[str, str, dict[str, bytes], bytes]
    ) -> None:
        method, path, headers, body = shape
        async with limit:
            response = await http.request(method, path, headers=headers, content=body)
        statuses[response.status_code] += 1
        problem = problems(method, path, response)
        if problem is not None:
            failures.append(f"{method} {path[:80]} {headers!r:.200} {body[:80]!r}: {problem}")

    shapes = [fuzzer.request() for _ in range(REQUESTS)]
    async with httpx.AsyncClient(base_url=fuzzed.url, timeout=30) as http:
        await asyncio.gather(*(send(http, shape) for shape in shapes))
    assert failures == [], (len(failures), failures[:10], statuses)
    assert sum(statuses.values()) == REQUESTS
    # The fuzzer reached past the front door: some requests were good enough to succeed.
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[401] > 0, statuses
