"""One hosted-page request: its cookies, CSRF check, clock, and the responses it may give.

Every page and redirect from these routes carries the page headers (`page_headers`): no
caching, no framing, no referrer, and a CSP that allows our stylesheet and our own forms —
plus the one place a form here may end up redirecting to (browsers apply `form-action` to
the redirects that follow a form submission).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.response import Template

from issuer.oauth.forms import Form, parse_form, parse_query
from issuer.proxies import client_address
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.web.discovery import AUTHORIZATION_PATH, END_SESSION_PATH
from issuer.web.pages.sealing import PageKeys, page_keys
from issuer.web.pages.static import STYLESHEET, stylesheet_version
from issuer.web.responses import NO_STORE, security_headers

__all__ = [
    "CONSENT_PATH",
    "CSRF_COOKIE",
    "LOGIN_PATH",
    "LOGOUT_CONFIRM_PATH",
    "PAGE_PATHS",
    "SESSION_COOKIE",
    "TEMPLATES_DIR",
    "Page",
    "PageError",
    "cookie_name",
    "page_headers",
    "redirect_headers",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

# The page routes, under ISSUER_URL's path (as the protocol endpoints are); discovery names
# the authorization and end-session endpoints.
LOGIN_PATH = "/oauth/login"
CONSENT_PATH = "/oauth/consent"
LOGOUT_CONFIRM_PATH = "/oauth/logout/confirm"
PAGE_PATHS = frozenset(
    (
        AUTHORIZATION_PATH,
        LOGIN_PATH,
        CONSENT_PATH,
        END_SESSION_PATH,
        LOGOUT_CONFIRM_PATH,
        STYLESHEET,
    )
)

SESSION_COOKIE = "issuer_session"
CSRF_COOKIE = "issuer_csrf"

# What a CSP source may hold of a redirect target: scheme, host, port (a private-use scheme
# such as com.example.app: is a scheme-source).
_HOST_SOURCE = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


class PageError(Exception):
    """A request the pages refuse with an error page (never a redirect): the status, a title
    and a message safe to show; `debug` goes only to the log."""

    def __init__(self, status: int, title: str, message: str, *, debug: str = "") -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.debug = status, title, message, debug


def _form_action_source(target: str | None) -> str:
    """The CSP source for a redirect target: its origin, or its private-use scheme."""
    if not target:
        return ""
    parts = urlsplit(target)
    if not _SCHEME.fullmatch(parts.scheme):
        return ""
    if parts.scheme in ("http", "https"):
        host = parts.netloc.rpartition("@")[2]
        return f" {parts.scheme}://{host}" if _HOST_SOURCE.fullmatch(host) else ""
    return f" {parts.scheme}:"


def page_headers(issuer_url: str, redirect_target: str | None = None) -> dict[str, str]:
    """The headers of every hosted page and of the redirects they answer with."""
    return _page_headers(issuer_url, _form_action_source(redirect_target))


def redirect_headers(issuer_url: str, location: str) -> dict[str, str]:
    """The headers of a page's redirect to `location`."""
    return {**page_headers(issuer_url, location), "Location": location}


@lru_cache(maxsize=256)
def _page_headers(issuer_url: str, form_action_source: str) -> dict[str, str]:
    """Built once per issuer and redirect origin (a redirect's location, with its one-time
    code, would make every call a miss)."""
    csp = (
        "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self'{form_action_source}"
    )
    return {
        **security_headers(issuer_url),
        **NO_STORE,
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


def cookie_name(base: str, settings: Settings) -> str:
    """`__Host-` prefixed on https: the browser then insists on Secure, Path=/ and no Domain,
    so no sibling domain and no plain-http page can plant or overwrite it."""
    return f"__Host-{base}" if settings.is_https else base


@dataclass
class Page:
    """The request being answered, with what every page needs from the runtime."""

    request: Request[Any, Any, Any]
    runtime: Runtime

    def __post_init__(self) -> None:
        self.settings = self.runtime.settings
        self.keys: PageKeys = page_keys(self.runtime.kek)
        self.now: datetime = self.runtime.clock()
        self.base = urlsplit(self.settings.url).path.rstrip("/")
        self.cookies: list[Cookie] = []
        self._csrf_cookie = self.cookie(CSRF_COOKIE)

    @property
    def redirect_status(self) -> int:
        """302 after a GET; 303 after a POST, so that the browser follows with a GET and never
        re-posts the form (a password) to the client (RFC 9700 §4.12)."""
        return 303 if self.request.method == "POST" else 302

    def cookie(self, base: str) -> str | None:
        return self.request.cookies.get(cookie_name(base, self.settings)) or None

    def set_cookie(self, base: str, value: str, *, max_age: int | None = None) -> None:
        self.cookies.append(
            Cookie(
                key=cookie_name(base, self.settings),
                value=value,
                max_age=max_age,
                path="/",
                secure=self.settings.is_https,
                httponly=True,
                samesite="lax",
            )
        )

    def clear_cookie(self, base: str) -> None:
        self.set_cookie(base, "", max_age=0)

    @property
    def address(self) -> str:
        """The browser's address for the login throttle (behind ISSUER_TRUSTED_PROXIES, the
        right-most untrusted X-Forwarded-For hop), as the token endpoint reads it."""
        client = self.request.client
        return client_address(
            client.host if client else None,
            self.request.headers.getall("x-forwarded-for", []),
            self.settings.trusted_proxies,
        )

    async def form(self) -> Form:
        """The posted form, strictly parsed (a repeated field is refused)."""
        return parse_form(await self.request.body(), self.request.headers.get("content-type"))

    async def params(self) -> Mapping[str, list[str]]:
        """A GET's query or a POST's form (endpoints a client's redirect or its auto-posted
        form reaches), every value of each name: the protocol check tells repeats apart."""
        if self.request.method == "POST":
            return (await self.form()).fields()
        return parse_query(self.request.scope["query_string"].decode("latin-1")).fields()

    def csrf_token(self) -> str:
        """The token for this page's forms, setting the CSRF cookie if the browser has none."""
        if self._csrf_cookie is None:
            self._csrf_cookie = self.keys.new_csrf_cookie()
            self.set_cookie(CSRF_COOKIE, self._csrf_cookie)
        return self.keys.csrf_token(self._csrf_cookie)

    def check_csrf(self, form: Form) -> None:
        if not self.keys.csrf_ok(self.cookie(CSRF_COOKIE), form.get("csrf_token")):
            raise PageError(
                403,
                "Your request could not be checked",
                "This form has expired or was not sent from this site. Go back to the "
                "application and sign in again.",
                debug="CSRF token missing or not matching its cookie",
            )

    def seal(self, purpose: str, params: dict[str, str]) -> str:
        return self.keys.seal(purpose, params, now=self.now)

    def unseal(self, purpose: str, form: Form) -> dict[str, str]:
        params = self.keys.unseal(purpose, form.get("pending"), now=self.now)
        if params is None:
            raise PageError(
                400,
                "This page has expired",
                "The sign-in request is missing, altered or too old. Go back to the "
                "application and start again.",
                debug=f"the pending {purpose} request did not unseal",
            )
        return params

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        redirect_target: str | None = None,
        headers: dict[str, str] | None = None,
        with_form: bool = True,
        **context: Any,
    ) -> Template:
        """An HTML page with the display name and the stylesheet (and a CSRF token for its
        form: a page without one sets no cookie)."""
        if with_form:
            context["csrf_token"] = self.csrf_token()
        return Template(
            template_name=template,
            context={
                "display_name": self.settings.display_name,
                "base": self.base,
                "stylesheet": f"{self.base}{STYLESHEET}?v={stylesheet_version()}",
                **context,
            },
            status_code=status,
            headers={**page_headers(self.settings.url, redirect_target), **(headers or {})},
            cookies=self.cookies,
            media_type=MediaType.HTML,
        )

    def error(self, error: PageError, *, headers: dict[str, str] | None = None) -> Template:
        return self.render(
            "error.html",
            status=error.status,
            title=error.title,
            message=error.message,
            headers=headers,
            with_form=False,
        )

    def redirect(self, location: str) -> Response[bytes]:
        """Back to the client (or a logout target), with this page's cookies."""
        return Response(
            b"",
            status_code=self.redirect_status,
            headers=redirect_headers(self.settings.url, location),
            cookies=self.cookies,
            media_type=MediaType.TEXT,
        )
