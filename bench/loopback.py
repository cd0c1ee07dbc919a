"""HTTP to the servers under test, loopback only: requests, Basic auth, readiness, discovery,
the `/metrics` sums, and a browser's login through a server's own HTML forms (the code flow's
session and PKCE). (Not named `http`: `python bench/report.py` puts bench/ first on
sys.path, where it would shadow the standard library's package.)"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench.common import BenchError, Unavailable
from bench.processes import tail

__all__ = [
    "Browser",
    "CodeClient",
    "Discovery",
    "authorize_url",
    "basic",
    "discover",
    "http",
    "metric_sum",
    "pkce_pair",
    "token_response",
    "wait_http_ok",
]


def _loopback(url: str) -> None:
    if urllib.parse.urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise BenchError(f"refusing a non-loopback URL: {url}")


def http(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    _loopback(url)
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body: bytes = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, body
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def basic(client_id: str, secret: str) -> str:
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def wait_http_ok(
    url: str, proc: subprocess.Popen[bytes], logfile: Path, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{what} exited with code {proc.returncode} before it was ready; "
                f"last lines of its log:\n{tail(logfile)}"
            )
        try:
            status, _, body = http("GET", url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status} {body[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BenchError(
        f"{what} was not ready at {url} within {timeout:.0f} s ({last}); "
        f"last lines of its log:\n{tail(logfile)}"
    )


class Discovery:
    """A server's `/.well-known/openid-configuration`."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def endpoint(self, key: str) -> str:
        """The URL under `key`; `Unavailable` when the server does not name one."""
        v = self.doc.get(key)
        if not v:
            raise Unavailable(f"discovery has no {key}")
        return str(v)


def discover(base: str) -> Discovery:
    status, _, body = http("GET", base + "/.well-known/openid-configuration")
    if status != 200:
        raise BenchError(f"GET {base}/.well-known/openid-configuration answered {status}")
    try:
        return Discovery(dict(json.loads(body)))
    except ValueError as exc:
        raise BenchError("discovery document is not JSON") from exc


def metric_sum(base: str, needle: str) -> float | None:
    """The sum of every `/metrics` series whose name contains `needle`; None when none."""
    try:
        status, _, body = http("GET", base + "/metrics", timeout=10)
    except (OSError, urllib.error.URLError):
        return None
    if status != 200:
        return None
    total, seen = 0.0, False
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("#") or needle not in line.split("{")[0].split(" ")[0]:
            continue
        if line.split("{")[0].split(" ")[0].endswith("_created"):
            continue
        with contextlib.suppress(ValueError, IndexError):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def token_response(url: str, auth: str | None, form: dict[str, str]) -> dict[str, Any]:
    """POST the token endpoint (no `auth` for a public client, which sends its client_id in
    the form); the JSON of a 200, else a `BenchError` saying what it said."""
    headers = {"Authorization": auth} if auth else {}
    status, _, body = http("POST", url, form=form, headers=headers)
    if status != 200:
        raise BenchError(
            f"{form.get('grant_type')} at the token endpoint answered {status}: {body[:300]!r}"
        )
    return dict(json.loads(body))


# --------------------------------------------------------------------------- the code flow


def pkce_pair() -> tuple[str, str]:
    """A PKCE (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CodeClient:
    """What the code flow needs from a server under test: a public client with a redirect
    URI and no consent left to ask, and what its login form is filled with."""

    client_id: str
    redirect_uri: str
    scope: str
    login: dict[str, str]  # form field name -> value (filled where the page has the field)


def authorize_url(endpoint: str, client: CodeClient, **more: str) -> str:
    """An authorization request (code, PKCE S256) for `client`; `more` adds code_challenge,
    state, nonce. Without them it is the part the code scenario's Lua loop completes."""
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": client.scope,
        "code_challenge_method": "S256",
        **more,
    }
    return endpoint + ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(query)


class _Forms(HTMLParser):
    """The forms of a page: action, method, the fields with their values, and the first named
    submit button (what a browser sends when Enter is pressed)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "submit": None})
        elif not self.forms:
            return
        elif tag == "input" and a.get("type", "text") not in {"submit", "button", "image"}:
            if a.get("name"):
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag in {"input", "button"} and a.get("type", "submit") == "submit":
            if a.get("name") and self.forms[-1]["submit"] is None:
                self.forms[-1]["submit"] = (a["name"], a.get("value", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as it is: the login follows it, or reads the code


class Browser:
    """A browser on loopback: cookies kept, redirects followed one by one, forms submitted.

    `login` goes through a server's own authorization endpoint and HTML pages (its login form,
    and its consent form when it asks) until it redirects to the client's redirect URI, as a
    person in a browser would; the session cookie it leaves is what the code scenario sends.
    """

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(
        self, method: str, url: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        _loopback(url)
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=30) as resp:
                body: bytes = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, body
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def login(self, url: str, client: CodeClient, *, max_steps: int = 12) -> str:
        """Follow `url` (an authorization request) through the pages to the redirect URI;
        the redirect's query (code, state, iss), parsed."""
        method, form = "GET", None
        for _ in range(max_steps):
            status, headers, body = self.request(method, url, form)
            if status in {301, 302, 303, 307, 308} and "location" in headers:
                url, method, form = urllib.parse.urljoin(url, headers["location"]), "GET", None
                if url.startswith(client.redirect_uri + "?"):
                    return url
                continue
            parser = _Forms()
            parser.feed(body.decode(errors="replace"))
            if status != 200 or not parser.forms:
                raise BenchError(f"login: {url} answered {status} with no form: {body[:300]!r}")
            page = parser.forms[0]
            form = dict(page["fields"])
            form.update({k: v for k, v in client.login.items() if k in form})
            if page["submit"] is not None:
                form.setdefault(*page["submit"])
            url, method = urllib.parse.urljoin(url, page["action"] or url), "POST"
        raise BenchError(f"login: no redirect to {client.redirect_uri} after {max_steps} steps")

    def cookie_header(self, url: str) -> str:
        """The Cookie header this browser sends to `url` (its session, for the code scenario)."""
        req = urllib.request.Request(url)
        self.jar.add_cookie_header(req)
        return req.get_header("Cookie") or ""
