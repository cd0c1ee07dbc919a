"""The authorization endpoint and the pages it leads to (OpenID Connect Core §3.1.2):

    GET|POST /oauth/authorize → a code at once (a session, consent given), or
    the login page  → POST /oauth/login   → a code, or
    the consent page → POST /oauth/consent → a code, or access_denied.

The protocol rules are `issuer.oauth.authorization`'s; this module only parses, renders and
redirects. The request travels between the pages sealed (`Page.seal`) and is validated
again on every submit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, post, route
from litestar.types import Receive, Scope, Send

from issuer.errors import InvalidGrant, InvalidRequest, SlowDown
from issuer.oauth.authorization import (
    AuthorizationPageError,
    AuthorizationRedirectError,
    AuthorizationRequest,
    ConsentNeeded,
    LoginNeeded,
    Redirect,
    decide,
    deny,
    issue_code,
    needs_the_session,
    remember_consent,
    validate,
)
from issuer.oauth.forms import parse_query
from issuer.oauth.login import authenticate_user
from issuer.oauth.server import AuthorizationServer
from issuer.store import users
from issuer.store.browser_sessions import BrowserSession
from issuer.web.deps import RuntimeDep, runtime_of
from issuer.web.discovery import AUTHORIZATION_PATH
from issuer.web.pages.page import (
    CONSENT_PATH,
    LOGIN_PATH,
    SESSION_COOKIE,
    Page,
    PageError,
    cookie_name,
    redirect_headers,
)
from issuer.web.pages.sessions import cookie_session_id, current_session, log_in
from issuer.web.protocol import BARE_HANDLER, BARE_METHODS
from issuer.web.responses import cookie, encode_headers, send_response

__all__ = [
    "ROUTES",
    "authorize",
    "authorize_at_once",
    "code_at_once",
    "consent",
    "login",
]

# The one answer to a failed login: it must not tell an unknown e-mail from a wrong password.
LOGIN_FAILED = "The e-mail address or password is not correct."

# OpenID Connect Core §5.4 and §11 scopes, in the words the consent page uses.
SCOPE_WORDS = {
    "openid": "Know who you are on this site (your account identifier)",
    "profile": "See your basic profile",
    "email": "See your e-mail address",
    "offline_access": "Stay signed in to it while you are away",
}


def scope_in_words(scope: str) -> str:
    return SCOPE_WORDS.get(scope, f"Use the permission “{scope}”")


async def code_at_once(
    server: AuthorizationServer,
    authorization: AuthorizationRequest,
    session_id: str | None,
    *,
    now: datetime,
) -> str | None:
    """The redirect with a code, when the request needs nothing of the browser session but
    that it is live, and it is: one statement (`issue_code`). None: the pages decide."""
    if session_id is None or await needs_the_session(server, authorization):
        return None
    return await issue_code(server, authorization, session_id, now=now)


async def authorize_at_once(scope: Scope, receive: Receive, send: Send) -> bool:
    """A GET of the authorization endpoint that `code_at_once` answers, answered before
    routing (`IssuerApp`'s bare routes): the request of every login from a present session,
    where the framework cost more than the login. Anything else (no session cookie, an
    invalid request, a page to show) is left to `authorize`: False."""
    runtime = runtime_of(scope)
    session_id = cookie_session_id(cookie(scope, cookie_name(SESSION_COOKIE, runtime.settings)))
    if session_id is None:
        return False
    try:
        params = parse_query(scope["query_string"].decode("latin-1")).fields()
        authorization = await validate(runtime.server, params)
    except (InvalidRequest, AuthorizationPageError, AuthorizationRedirectError):
        return False  # `authorize` shows or redirects it
    location = await code_at_once(runtime.server, authorization, session_id, now=runtime.clock())
    if location is None:
        return False
    headers = encode_headers(redirect_headers(runtime.settings.url, location))
    await send_response(send, 302, [*headers, *_EMPTY_TEXT])
    return True


# What Litestar sends with the empty body of `Page.redirect`.
_EMPTY_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]


@route(
    AUTHORIZATION_PATH,
    http_method=["GET", "POST"],
    include_in_schema=False,
    opt={BARE_METHODS: ("GET",), BARE_HANDLER: authorize_at_once},
)
async def authorize(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Any]:
    """RFC 6749 §4.1.1; OpenID Connect Core §3.1.2.1: GET and POST MUST both be supported."""
    page = Page(request, runtime)
    params = await page.params()
    server = runtime.server
    authorization = await validate(server, params)
    session_id = cookie_session_id(page.cookie(SESSION_COOKIE))
    location = await code_at_once(server, authorization, session_id, now=page.now)
    if location is not None:
        return page.redirect(location)
    return await answer(page, authorization, await current_session(page))


@post(LOGIN_PATH, include_in_schema=False, status_code=200)
async def login(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Any]:
    """The login form: the same credential check and throttle as the password grant."""
    page = Page(request, runtime)
    form = await page.form()
    page.check_csrf(form)
    authorization = await validate(runtime.server, page.unseal("authorize", form))
    email, password = form.get("email") or "", form.get("password") or ""
    if not email or not password:
        return await login_page(page, authorization, status=400, email=email, error=LOGIN_FAILED)
    try:
        user = await authenticate_user(
            runtime.server,
            email,
            password,
            client_id=authorization.client_id,
            address=page.address,
            now=page.now,
        )
    except SlowDown as exc:
        return await login_page(
            page,
            authorization,
            status=429,
            email=email,
            error="Too many failed sign-in attempts. Wait a few minutes, then try again.",
            headers=exc.headers,
        )
    except (InvalidGrant, InvalidRequest):
        return await login_page(page, authorization, status=400, email=email, error=LOGIN_FAILED)
    browser_session = await log_in(page, user.id, await current_session(page))
    return await answer(page, authorization, browser_session, fresh_login=True)


@post(CONSENT_PATH, include_in_schema=False, status_code=200)
async def consent(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Any]:
    """The consent form: allow (remembered for the user and client) or deny."""
    page = Page(request, runtime)
    form = await page.form()
    page.check_csrf(form)
    browser_session = await current_session(page)
    if browser_session is None:
        raise PageError(
            400,
            "You are no longer signed in",
            "Your sign-in ended while this page was open. Go back to the application and "
            "sign in again.",
            debug="consent posted without a live browser session",
        )
    # Sealed for this session only, and only once its login checks had passed: a consent
    # form cannot stand in for a login that prompt=login or max_age asked for.
    authorization = await validate(
        runtime.server, page.unseal(_consent_purpose(browser_session), form)
    )
    decision = form.get("decision")
    server = runtime.server
    if decision == "allow":
        await remember_consent(server, authorization, browser_session.user_id)
        location = await issue_code(server, authorization, browser_session.id, now=page.now)
        if location is None:  # logged out meanwhile
            return await answer(page, authorization, None)
        return page.redirect(location)
    if decision == "deny":
        return page.redirect(await deny(server, authorization))
    raise PageError(400, "The request is not valid", "Choose Allow or Deny.")


async def answer(
    page: Page,
    authorization: AuthorizationRequest,
    browser_session: BrowserSession | None,
    *,
    fresh_login: bool = False,
) -> Response[Any]:
    """What the request needs next: a login, a consent, or the redirect back."""
    decision = await decide(
        page.runtime.server, authorization, browser_session, now=page.now, fresh_login=fresh_login
    )
    if isinstance(decision, Redirect):
        return page.redirect(decision.location)
    if browser_session is None:
        return await login_page(page, authorization)
    signed_in = await _email_of(page, browser_session.user_id)
    if isinstance(decision, LoginNeeded):
        # Asked to sign in again (prompt=login, max_age): as the same user, unless the client
        # hints at another.
        email = authorization.login_hint or signed_in
        return await login_page(page, authorization, email=email)
    assert isinstance(decision, ConsentNeeded)
    return page.render(
        "consent.html",
        redirect_target=authorization.redirect_uri,
        pending=page.seal(_consent_purpose(browser_session), authorization.to_params()),
        client_name=decision.client_name,
        email=signed_in,
        scopes=[scope_in_words(scope) for scope in decision.scopes],
    )


async def login_page(
    page: Page,
    authorization: AuthorizationRequest,
    *,
    status: int = 200,
    email: str | None = None,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """The login form, prefilled with what was typed or the client's `login_hint`."""
    client = await page.runtime.server.clients.get(authorization.client_id)
    return page.render(
        "login.html",
        status=status,
        headers=headers,
        redirect_target=authorization.redirect_uri,
        pending=page.seal("authorize", authorization.to_params()),
        client_name=client.display_name if client else "",
        email=email if email is not None else authorization.login_hint or "",
        error=error,
    )


async def _email_of(page: Page, user_id: str) -> str:
    async with page.runtime.database.session() as session:
        user = await users.by_id(session, user_id)
    return user.email if user else ""


def _consent_purpose(browser_session: BrowserSession) -> str:
    return f"consent {browser_session.id}"


ROUTES = [authorize, login, consent]
