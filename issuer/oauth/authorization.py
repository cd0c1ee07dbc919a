"""The authorization endpoint's rules (RFC 6749 §4.1, OpenID Connect Core §3.1.2, RFC 7636,
RFC 9207) and RP-Initiated Logout 1.0: no HTML, no cookies.

The hosted pages (`issuer.web.pages`) call these steps: `validate` a request (again on
every submit: a sealed request is never trusted), `decide` what it needs (a login, a
consent, or nothing: then the code is issued), `issue_code`, `remember_consent`, `deny`;
and for logout `logout` (what to do) then `end_browser_session`. A request that
`needs_the_session` for nothing but being live skips `decide`: `issue_code` alone, with
the session cookie's id, is then the whole authorization (one statement).

Two kinds of error: one about the client or its redirect_uri is shown as a page and never
redirected (`AuthorizationPageError`, RFC 6749 §4.1.2.1: the user agent MUST NOT be sent to
an unverified redirect URI); every other one goes back to the client
(`AuthorizationRedirectError`) with `error`, `error_description`, `state` and `iss`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

from issuer.errors import InvalidRequest, InvalidScope
from issuer.jose.errors import VerificationError
from issuer.metrics import REVOCATIONS
from issuer.oauth import pkce
from issuer.oauth.client_auth import ClientInfo
from issuer.oauth.forms import Form, refuse_nul
from issuer.oauth.grants.base import IDENTITY_SCOPES, resolve_scope, scope_tokens
from issuer.oauth.id_tokens import TYP_ID_TOKEN
from issuer.oauth.server import AuthorizationServer
from issuer.store import authorization_codes, browser_sessions, consents
from issuer.store.browser_sessions import BrowserSession

__all__ = [
    "CODE_LIFETIME",
    "AuthorizationPageError",
    "AuthorizationRedirectError",
    "AuthorizationRequest",
    "ConsentNeeded",
    "Decision",
    "LoginNeeded",
    "LogoutOutcome",
    "Redirect",
    "decide",
    "deny",
    "end_browser_session",
    "issue_code",
    "logout",
    "needs_the_session",
    "remember_consent",
    "validate",
]

# RFC 6749 §4.1.2: a maximum authorization code lifetime of 10 minutes is RECOMMENDED; the
# design asks for 60 s (a code is exchanged at once by a working client).
CODE_LIFETIME = timedelta(seconds=60)
# OpenID Connect Core §3.1.2.1 prompt values: none, login and consent are acted on;
# select_account is accepted and has nothing to do (one account per browser session).
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
_PROMPTS_READING_THE_SESSION = frozenset({"login", "consent"})
_MAX_AGE = re.compile(r"[0-9]{1,9}")
# Bounds on what a request may carry (a stored nonce, a state sent back): bad input → 4xx.
_MAX_LENGTH = {"state": 2048, "nonce": 512, "login_hint": 320, "client_id": 128}


class AuthorizationPageError(Exception):
    """An error shown to the user as a page (400), never a redirect: the client or its
    redirect_uri cannot be trusted."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class AuthorizationRedirectError(Exception):
    """An error sent back to the client's verified redirect_uri (RFC 6749 §4.1.2.1)."""

    def __init__(
        self, error: str, description: str, *, redirect_uri: str, state: str | None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state

    def location(self, issuer_url: str) -> str:
        """The redirect: error, error_description, state, and iss (RFC 9207 §2)."""
        return _with_query(
            self.redirect_uri,
            error=self.error,
            error_description=self.description,
            state=self.state,
            iss=issuer_url,
        )


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (only `validate` makes one)."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    resource: str | None

    def to_params(self) -> dict[str, str]:
        """The request as parameters again (the pages seal it into their forms)."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scope),
            "code_challenge": self.code_challenge,
            "code_challenge_method": pkce.METHOD,
        }
        optional = {
            "state": self.state,
            "nonce": self.nonce,
            "prompt": " ".join(sorted(self.prompt)) or None,
            "max_age": None if self.max_age is None else str(self.max_age),
            "login_hint": self.login_hint,
            "resource": self.resource,
        }
        params.update({name: value for name, value in optional.items() if value is not None})
        return params

    @classmethod
    async def from_params(
        cls, server: AuthorizationServer, params: Mapping[str, str | Sequence[str]]
    ) -> AuthorizationRequest:
        """`validate` again: parameters that come back from a page are never trusted."""
        return await validate(server, params)

    def redirect_error(self, error: str, description: str) -> AuthorizationRedirectError:
        return AuthorizationRedirectError(
            error, description, redirect_uri=self.redirect_uri, state=self.state
        )


# -- validate --------------------------------------------------------------------------------


def _form(params: Mapping[str, str | Sequence[str]]) -> Form:
    """The parameters as a strict `Form`: one that repeats is refused when it is read."""
    fields: dict[str, list[str]] = {}
    for name, value in params.items():
        values = [value] if isinstance(value, str) else list(value)
        refuse_nul(name, *values)
        fields[name] = values
    return Form(fields)


def _page_param(form: Form, name: str) -> str:
    """A parameter the redirect depends on: any problem is shown as a page."""
    try:
        value = form.get(name)
    except InvalidRequest:
        raise AuthorizationPageError(
            "invalid_request", f"{name} is included more than once"
        ) from None
    if value is None:
        raise AuthorizationPageError("invalid_request", f"{name} is missing")
    return value


async def _registered_client(server: AuthorizationServer, form: Form) -> ClientInfo:
    client_id = _page_param(form, "client_id")
    client = None
    if len(client_id) <= _MAX_LENGTH["client_id"]:
        client = await server.clients.get(client_id)
    if client is None or client.disabled:
        raise AuthorizationPageError("invalid_request", "unknown client")
    return client


async def validate(
    server: AuthorizationServer, params: Mapping[str, str | Sequence[str]]
) -> AuthorizationRequest:
    """Every rule of an authorization request, or one of the two errors.

    `params` maps each name to its value, or to every value it was sent with (a
    duplicated parameter is refused: RFC 6749 §3.1).
    """
    try:
        form = _form(params)
    except InvalidRequest as exc:
        raise AuthorizationPageError("invalid_request", exc.description) from None
    client = await _registered_client(server, form)
    redirect_uri = _page_param(form, "redirect_uri")
    # RFC 6749 §3.1.2.3 / OpenID Connect Core §3.1.2.1: compared as exact strings.
    if redirect_uri not in client.redirect_uris:
        raise AuthorizationPageError(
            "invalid_request", "the redirect_uri is not registered for this client"
        )
    # A state sent twice or too long is refused below, without echoing it.
    state: str | None = None
    state_error = None
    try:
        state = form.get("state")
    except InvalidRequest:
        state_error = "state is included more than once"
    if state is not None and len(state) > _MAX_LENGTH["state"]:
        state, state_error = None, "state is too long"

    def fail(error: str, description: str) -> AuthorizationRedirectError:
        return AuthorizationRedirectError(
            error, description, redirect_uri=redirect_uri, state=state
        )

    def get(name: str) -> str | None:
        try:
            value = form.get(name)
        except InvalidRequest as exc:
            raise fail("invalid_request", exc.description) from None
        if value is not None and len(value) > _MAX_LENGTH.get(name, 4096):
            raise fail("invalid_request", f"{name} is too long")
        return value

    if state_error is not None:
        raise fail("invalid_request", state_error)
    # OpenID Connect Core §6: request objects are not supported.
    if get("request") is not None:
        raise fail("request_not_supported", "request objects are not supported")
    if get("request_uri") is not None:
        raise fail("request_uri_not_supported", "request_uri is not supported")
    response_type = get("response_type")
    if response_type is None:
        raise fail("invalid_request", "response_type is missing")
    if response_type != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    if get("response_mode") not in (None, "query"):
        raise fail("invalid_request", "only response_mode=query is supported")
    # RFC 6749 §4.1.2.1 unauthorized_client: not authorized to use this method.
    if "authorization_code" not in client.grant_types:
        raise fail("unauthorized_client", "the client may not use the authorization code flow")
    # OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE for every client, S256 only.
    challenge = get("code_challenge")
    if challenge is None:
        raise fail("invalid_request", "code_challenge is required (PKCE, S256)")
    method = get("code_challenge_method")
    if method != pkce.METHOD:
        # RFC 7636 §4.3: an absent method means plain, which is refused too.
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not pkce.is_challenge(challenge):
        raise fail("invalid_request", "code_challenge is not a S256 challenge")
    scope = _scope(get("scope"), client, fail)
    prompt = frozenset(scope_tokens(get("prompt")))
    if not prompt <= PROMPTS:
        raise fail("invalid_request", "unsupported prompt value")
    # OpenID Connect Core §3.1.2.1: none with any other value is an error.
    if "none" in prompt and len(prompt) > 1:
        raise fail("invalid_request", "prompt=none cannot be combined with another value")
    raw_max_age = get("max_age")
    if raw_max_age is not None and not _MAX_AGE.fullmatch(raw_max_age):
        raise fail("invalid_request", "max_age must be a whole number of seconds")
    resource = _resource(form, client, fail)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        nonce=get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=None if raw_max_age is None else int(raw_max_age),
        login_hint=get("login_hint"),
        resource=resource,
    )


def _scope(requested: str | None, client: ClientInfo, fail: Any) -> tuple[str, ...]:
    """The client's registered scopes and the identity scopes; none asked: the registered."""
    try:
        if not scope_tokens(requested):
            return tuple(scope_tokens(resolve_scope(None, client.scopes)))
        allowed = list(dict.fromkeys((*client.scopes, *IDENTITY_SCOPES)))
        return tuple(scope_tokens(resolve_scope(requested, allowed)))
    except InvalidScope as exc:
        raise fail("invalid_scope", exc.description) from None


def _resource(form: Form, client: ClientInfo, fail: Any) -> str | None:
    """RFC 8707 §2: one resource, one the client may ask for (else invalid_target)."""
    resources = form.all("resource")
    if not resources:
        return None
    if len(resources) > 1:
        raise fail("invalid_target", "one resource per authorization request")
    if resources[0] not in client.audiences:
        raise fail("invalid_target", "the resource is not allowed for this client")
    return resources[0]


# -- decide ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginNeeded:
    """Show the login page (no session, prompt=login, or max_age passed)."""


@dataclass(frozen=True, slots=True)
class ConsentNeeded:
    """Ask the user to grant these scopes to the client."""

    scopes: tuple[str, ...]
    client_name: str = ""


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the browser back to the client: a code, or an error."""

    location: str


Decision = LoginNeeded | ConsentNeeded | Redirect


async def _client(server: AuthorizationServer, request: AuthorizationRequest) -> ClientInfo:
    """The request's client, still registered and enabled (it may have changed since)."""
    client = await server.clients.get(request.client_id)
    if client is None or client.disabled:
        raise AuthorizationPageError("invalid_request", "unknown client")
    return client


async def decide(
    server: AuthorizationServer,
    request: AuthorizationRequest,
    browser_session: BrowserSession | None,
    *,
    now: datetime,
    fresh_login: bool = False,
) -> Decision:
    """What the request needs next. `fresh_login`: the user has just logged in for this
    very request (so that prompt=login and max_age do not ask again)."""
    if browser_session is None or (
        not fresh_login and _must_log_in_again(request, browser_session, now)
    ):
        # OpenID Connect Core §3.1.2.1: prompt=none MUST NOT display a login page.
        if "none" in request.prompt:
            return _error(server, request, "login_required", "the user is not logged in")
        return LoginNeeded()
    client = await _client(server, request)
    if client.consent_required or "consent" in request.prompt:
        async with server.database.session() as session:
            granted = await consents.granted(session, browser_session.user_id, client.client_id)
        # prompt=consent asks for every scope again; otherwise only for those not granted.
        needed = tuple(
            scope for scope in request.scope if "consent" in request.prompt or scope not in granted
        )
        if needed or "consent" in request.prompt:
            if "none" in request.prompt:
                return _error(server, request, "consent_required", "the user has not consented")
            return ConsentNeeded(scopes=needed, client_name=client.display_name)
    location = await issue_code(server, request, browser_session.id, now=now)
    if location is None:  # the session ended meanwhile
        return await decide(server, request, None, now=now)
    return Redirect(location)


async def needs_the_session(server: AuthorizationServer, request: AuthorizationRequest) -> bool:
    """Whether `decide` needs the browser session read first: for prompt=login or consent, a
    max_age, or a client that asks for consent. Otherwise a live session is all the request
    needs (prompt=none too: with one, a code; without, login_required), and `issue_code`
    checks that in the statement that stores the code (None: as no session)."""
    if request.prompt & _PROMPTS_READING_THE_SESSION or request.max_age is not None:
        return True
    return (await _client(server, request)).consent_required


def _error(
    server: AuthorizationServer, request: AuthorizationRequest, error: str, description: str
) -> Redirect:
    return Redirect(request.redirect_error(error, description).location(server.settings.url))


def _must_log_in_again(
    request: AuthorizationRequest, browser_session: BrowserSession, now: datetime
) -> bool:
    if "login" in request.prompt:
        return True
    # OpenID Connect Core §3.1.2.1 max_age: the user MUST be actively re-authenticated when
    # more time than this has passed since the last authentication.
    if request.max_age is not None:
        return now - browser_session.auth_time > timedelta(seconds=request.max_age)
    return False


async def issue_code(
    server: AuthorizationServer, request: AuthorizationRequest, session_id: str, *, now: datetime
) -> str | None:
    """A new code bound to the request and the browser session `session_id` (its user, its
    auth_time); the redirect location with `code`, `state` and `iss` (RFC 6749 §4.1.2,
    RFC 9207 §2). None if the session is not live (logged out, expired, its user disabled):
    checked by the statement that stores the code, so a logout at any moment before wins."""
    # RFC 6749 §10.10: the probability of guessing a code MUST be ≤ 2^-128; 256 bits here.
    code = secrets.token_urlsafe(32)
    browser_session = await authorization_codes.store(
        server.database,
        digest=authorization_codes.code_digest(code),
        client_id=request.client_id,
        session_id=session_id,
        redirect_uri=request.redirect_uri,
        code_challenge=request.code_challenge,
        nonce=request.nonce,
        scope=" ".join(request.scope),
        resource=request.resource,
        now=now,
        expires_at=now + CODE_LIFETIME,
    )
    if browser_session is None:
        return None
    await browser_sessions.touch(server.database, browser_session, now=now)
    issuer = server.settings.url
    return _with_query(request.redirect_uri, code=code, state=request.state, iss=issuer)


async def remember_consent(
    server: AuthorizationServer, request: AuthorizationRequest, user_id: str
) -> None:
    """The user allowed the request's scopes: not asked for them again."""
    async with server.database.session() as session:
        await consents.remember(
            session, user_id, request.client_id, request.scope, now=server.clock()
        )


async def deny(server: AuthorizationServer, request: AuthorizationRequest) -> str:
    """The user said no: the location with access_denied (RFC 6749 §4.1.2.1)."""
    return _error(server, request, "access_denied", "the user denied the request").location


def _with_query(uri: str, **params: str | None) -> str:
    """`uri` with `params` (None left out) added to its query (RFC 6749 §4.1.2: the
    redirect URI's own query component MUST be retained)."""
    parts = urlsplit(uri)
    # The names are ours and need no quoting; the values are quoted as urlencode would.
    added = "&".join(
        f"{name}={quote_plus(value)}" for name, value in params.items() if value is not None
    )
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


# -- logout ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """What a logout request needs: the user's confirmation (no valid id_token_hint for the
    session's user), and where to go afterwards (None: the issuer's own "logged out" page)."""

    confirm_needed: bool
    location: str | None
    client_name: str | None


async def logout(
    server: AuthorizationServer,
    params: Mapping[str, str | Sequence[str]],
    browser_session: BrowserSession | None,
    *,
    now: datetime,
) -> LogoutOutcome:
    """RP-Initiated Logout 1.0 §2-§3: check `id_token_hint` (ours, our iss; an expired one is
    fine), `client_id`, `post_logout_redirect_uri` (registered exactly for that client) and
    `state`. Changes nothing: `end_browser_session` ends the session once the pages decide.
    Every error is an `AuthorizationPageError` (a logout never redirects to an unverified
    URI)."""
    try:
        form = _form(params)
        hint, client_id = form.get("id_token_hint"), form.get("client_id")
        target, state = form.get("post_logout_redirect_uri"), form.get("state")
    except InvalidRequest as exc:
        raise AuthorizationPageError("invalid_request", exc.description) from None
    claims = None if hint is None else _id_token_hint(server, hint)
    if claims is not None:
        audience = claims["aud"]
        # RP-Initiated Logout §2: client_id, when sent with a hint, MUST match its aud.
        if client_id is not None and client_id != audience:
            raise AuthorizationPageError(
                "invalid_request", "client_id does not match the id_token_hint"
            )
        client_id = audience
    client = None
    if client_id is not None:
        if len(client_id) <= _MAX_LENGTH["client_id"]:
            client = await server.clients.get(client_id)
        if client is None:
            raise AuthorizationPageError("invalid_request", "unknown client")
    location = None
    if target is not None:
        if client is None:
            raise AuthorizationPageError(
                "invalid_request", "post_logout_redirect_uri needs id_token_hint or client_id"
            )
        # RP-Initiated Logout §3: MUST exactly match a registered value.
        if target not in client.post_logout_redirect_uris:
            raise AuthorizationPageError(
                "invalid_request", "the post_logout_redirect_uri is not registered for the client"
            )
        location = _with_query(target, state=state)
    # §2: without a hint naming the session's user, the OP asks whether to log out.
    confirm = browser_session is not None and (
        claims is None or claims["sub"] != browser_session.user_id
    )
    return LogoutOutcome(
        confirm_needed=confirm,
        location=location,
        client_name=None if client is None else client.display_name,
    )


def _id_token_hint(server: AuthorizationServer, hint: str) -> dict[str, Any]:
    """The claims of an ID token we issued (signature, typ, iss, sub, one aud); its expiry
    does not matter (RP-Initiated Logout §2)."""
    try:
        claims = server.ring().verify(hint, typ=TYP_ID_TOKEN.lower())
    except VerificationError:
        raise AuthorizationPageError(
            "invalid_request", "the id_token_hint is not an ID token of this issuer"
        ) from None
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    if (
        claims.get("iss") != server.settings.url
        or not isinstance(claims.get("sub"), str)
        or not isinstance(audience, str)
    ):
        raise AuthorizationPageError(
            "invalid_request", "the id_token_hint is not an ID token of this issuer"
        )
    return {**claims, "aud": audience}


async def end_browser_session(
    server: AuthorizationServer, browser_session: BrowserSession, *, now: datetime
) -> int:
    """Log out: end the session and revoke the refresh families started in it; how many."""
    async with server.database.session() as session:
        revoked = await browser_sessions.end(session, browser_session.id, now=now)
    if revoked:
        REVOCATIONS.labels(kind="family").inc(revoked)
    return revoked
