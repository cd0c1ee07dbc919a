"""The hosted pages over HTTP (issue 12): the authorization endpoint's rules and error paths,
the login form (CSRF, the sealed request, the shared throttle), consent, SSO, cookies and the
page headers — on both databases."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from issuer.accounts import passwords
from issuer.settings import Settings
from issuer.store import browser_sessions, clients, users
from issuer.store.database import Database
from issuer.store.models import AuthorizationCode
from tests.conftest import make_settings
from tests.oauth.login_support import REDIRECT_URI, query_of
from tests.oauth.support import add_client, add_user, post_form
from tests.web.pages_support import (
    THIRD_URI,
    Site,
    authorize,
    parse,
    serving,
    submit,
    the_form,
)
from tests.web.test_database_outage import terminate_other_backends

ISSUER = "http://127.0.0.1:8000"
LOGIN_FAILED = "The e-mail address or password is not correct."


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[Site]:
    async with serving(settings) as served:
        yield served


def assert_page_headers(response: httpx.Response, *, form_target: str | None = None) -> None:
    """No caching, no framing, no referrer; a CSP for our stylesheet and forms only."""
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = dict(
        [*part.split(" ", 1), ""][:2] for part in headers["content-security-policy"].split("; ")
    )
    assert csp["default-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["style-src"] == "'self'"
    expected = "'self'" + (f" {form_target}" if form_target else "")
    assert csp["form-action"] == expected


def assert_redirect(response: httpx.Response, to: str = REDIRECT_URI) -> dict[str, str]:
    """A redirect to the client with `state` and `iss` (RFC 9207); its query."""
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.split("?")[0] == to
    query = query_of(location)
    assert query["iss"] == ISSUER
    assert response.content == b"" and "json" not in response.headers["content-type"]
    return query


def assert_error_page(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text
    assert_page_headers(response)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie of a response by name: the whole header line."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


# -- the authorization endpoint ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_request_without_a_session_gets_the_login_page(site: Site, method: str) -> None:
    response, _ = await authorize(site.browser, method=method)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_page_headers(response, form_target="https://app.example.com")
    action, fields = the_form(response)
    assert action == "/oauth/login"
    assert set(fields) == {"csrf_token", "pending", "email", "password"}
    assert "Example SPA" in response.text and "<title>Sign in · issuer</title>" in response.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "nobody"}, "unknown client"),
        ({"client_id": ""}, "client_id is missing"),
        ({"redirect_uri": "https://evil.example.com/cb"}, "not registered"),
        ({"redirect_uri": REDIRECT_URI + "/"}, "not registered"),
        ({"redirect_uri": ""}, "redirect_uri is missing"),
    ],
)
async def test_an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect(
    site: Site, change: dict[str, str], message: str
) -> None:
    for method in ("GET", "POST"):
        response, _ = await authorize(site.browser, method=method, **change)
        assert_error_page(response, 400, message)


async def test_a_repeated_redirect_uri_is_an_error_page(site: Site) -> None:
    response = await site.browser.get(
        "/oauth/authorize?client_id=spa&redirect_uri=a&redirect_uri=b&response_type=code"
    )
    assert_error_page(response, 400, "more than once")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "create"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"resource": "https://elsewhere.example.com"}, "invalid_target"),
        ({"request": "eyJ..."}, "request_not_supported"),
    ],
)
async def test_every_other_error_redirects_with_error_state_and_iss(
    site: Site, change: dict[str, str], error: str
) -> None:
    for method, status in (("GET", 302), ("POST", 303)):
        response, _ = await authorize(site.browser, method=method, **change)
        assert response.status_code == status
        query = assert_redirect(response)
        assert query["error"] == error
        assert query["state"] == "st-1"
        assert query["error_description"]
        assert "code" not in query
        assert_page_headers(response, form_target="https://app.example.com")


async def test_a_repeated_parameter_is_refused_back_at_the_client(site: Site) -> None:
    response, _ = await authorize(site.browser)
    sent = str(response.request.url.query, "ascii") + "&scope=openid"
    response = await site.browser.get(f"/oauth/authorize?{sent}")
    query = assert_redirect(response)
    assert (query["error"], query["state"]) == ("invalid_request", "st-1")


async def test_prompt_none_without_a_session_is_login_required(site: Site) -> None:
    response, _ = await authorize(site.browser, prompt="none")
    query = assert_redirect(response)
    assert (query["error"], query["state"]) == ("login_required", "st-1")


async def test_login_hint_prefills_the_email(site: Site) -> None:
    response, _ = await authorize(site.browser, login_hint="ada@example.com")
    page = parse(response.text)
    email = next(field for field in page.inputs if field.get("name") == "email")
    password = next(field for field in page.inputs if field.get("name") == "password")
    assert email["value"] == "ada@example.com"
    # The first field has the focus (a screen reader starts at the top of the form).
    assert "autofocus" in email and "autofocus" not in password


async def test_the_login_page_is_accessible_without_javascript(site: Site) -> None:
    response, _ = await authorize(site.browser)
    html = response.text
    assert re.search(r'<html lang="en">', html)
    assert "<script" not in html
    page = parse(html)
    visible = [field for field in page.inputs if field.get("type") != "hidden"]
    # A label for every input a person fills in; the first one focused.
    assert {field["id"] for field in visible} <= set(page.labels)
    assert "autofocus" in visible[0]
    assert 'href="/oauth/static/issuer.css?v=' in html
    css = await site.browser.get(re.search(r'href="([^"]+\.css[^"]*)"', html)[1])  # type: ignore[index]
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text


async def test_display_name_is_on_every_page(settings: Settings, tmp_path: Path) -> None:
    named = make_settings(
        settings.database_url, tmp_path / "named", ISSUER_DISPLAY_NAME="Example <Login>"
    )
    async with serving(named) as site:
        login, _ = await authorize(site.browser)
        error, _ = await authorize(site.browser, client_id="nobody")
        for response in (login, error):
            assert "Example &lt;Login&gt;" in response.text
            assert "Example <Login>" not in response.text


# -- login ------------------------------------------------------------------------------------


async def test_login_redirects_with_a_code_and_sets_the_session_cookie(site: Site) -> None:
    page, _ = await authorize(site.browser)
    response = await site.log_in(page)
    assert response.status_code == 303  # after a POST: the browser follows with a GET
    query = assert_redirect(response)
    assert query["state"] == "st-1" and len(query["code"]) >= 43
    cookie = set_cookies(response)["issuer_session"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert attributes == {"httponly", "path=/", "samesite=lax", "max-age=86400"}
    assert_page_headers(response, form_target="https://app.example.com")


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", "wrong password"),
        ("ada@example.com", ""),
    ],
)
async def test_a_failed_login_has_one_generic_error_tied_to_the_fields(
    site: Site, email: str, password: str
) -> None:
    page, _ = await authorize(site.browser)
    response = await submit(site.browser, page, email=email, password=password)
    assert response.status_code == 400
    assert "issuer_session" not in set_cookies(response)
    assert response.text.count(LOGIN_FAILED) == 1
    assert re.search(r'<p id="login-error" class="error" role="alert">', response.text)
    inputs = {field.get("name"): field for field in parse(response.text).inputs}
    assert inputs["email"]["aria-describedby"] == "login-error"
    assert inputs["password"]["aria-describedby"] == "login-error"
    assert inputs["email"]["value"] == email
    assert "autofocus" in inputs["email"]
    # The page can be submitted again, with the right password.
    again = await site.log_in(response)
    assert "code" in assert_redirect(again)


async def test_an_unknown_email_at_the_login_page_pays_for_one_argon2_verification(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = passwords.HASHER
    hashes: list[str] = []

    class CountingHasher:
        def verify(self, hash: str, password: str) -> bool:
            hashes.append(hash)
            return real.verify(hash, password)

        def check_needs_rehash(self, hash: str) -> bool:
            return real.check_needs_rehash(hash)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher())
    page, _ = await authorize(site.browser)
    unknown = await submit(site.browser, page, email="nobody@example.com", password="wrong")
    wrong = await submit(site.browser, unknown, email="ada@example.com", password="wrong")
    assert unknown.status_code == wrong.status_code == 400
    # The same page but for the e-mail typed (the clock stands still: the same sealed request).
    assert unknown.text.replace("nobody@", "ada@") == wrong.text
    assert hashes == [passwords._DUMMY_HASH, hashes[1]]
    assert hashes[1] != passwords._DUMMY_HASH


async def test_failed_page_logins_share_the_password_grant_throttle(
    settings: Settings, tmp_path: Path
) -> None:
    strict = make_settings(settings.database_url, tmp_path / "k", ISSUER_LOGIN_MAX_FAILURES=2)
    async with serving(strict) as site:
        secret = await add_client(site.runtime.database, site.runtime)
        page, _ = await authorize(site.browser)
        for _ in range(2):
            page = await site.log_in(page, password="wrong password")
            assert page.status_code == 400
        throttled = await site.log_in(page)  # even the right password waits now
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "Too many failed sign-in attempts" in throttled.text
        assert "issuer_session" not in set_cookies(throttled)
        # The token endpoint counts the same failures for the same account and address.
        token = await post_form(
            site.browser,
            "/oauth/token",
            {"grant_type": "password", "username": "ada@example.com", "password": "x"},
            auth=("web", secret),
        )
        assert token.status_code == 429
        assert token.json()["error"] == "slow_down"


async def test_a_login_form_without_the_csrf_pair_is_refused(site: Site) -> None:
    page, _ = await authorize(site.browser)
    action, fields = the_form(page)
    fields.update(email="ada@example.com", password="correct horse battery staple")
    forged = await site.browser.post(action, data={**fields, "csrf_token": "x" * 43})
    assert_error_page(forged, 403, "was not sent from this site")
    missing = await site.browser.post(action, data={**fields, "csrf_token": ""})
    assert_error_page(missing, 403, "was not sent from this site")
    site.browser.cookies.clear()  # a cross-site form: the token without its cookie
    no_cookie = await site.browser.post(action, data=fields)
    assert_error_page(no_cookie, 403, "was not sent from this site")
    assert "issuer_session" not in set_cookies(no_cookie)


@pytest.mark.parametrize("tamper", ["drop", "flip", "swap", "other-purpose"])
async def test_a_missing_or_tampered_pending_request_is_refused(site: Site, tamper: str) -> None:
    page, _ = await authorize(site.browser)
    action, fields = the_form(page)
    pending = fields["pending"]
    payload, mac = pending.split(".")
    if tamper == "drop":
        fields["pending"] = ""
    elif tamper == "flip":
        fields["pending"] = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    elif tamper == "swap":
        fields["pending"] = f"{payload}.{mac[::-1]}"
    else:  # a logout confirmation's sealed request on the login form
        await site.log_in(page)
        confirm = await site.browser.get("/oauth/logout")
        fields["pending"] = the_form(confirm)[1]["pending"]
        fields["csrf_token"] = the_form(confirm)[1]["csrf_token"]
    response = await site.browser.post(
        action, data={**fields, "email": "ada@example.com", "password": "wrong"}
    )
    assert_error_page(response, 400, "missing, altered or too old")


async def test_a_pending_request_expires(site: Site) -> None:
    page, _ = await authorize(site.browser)
    site.clock.advance(1801)
    response = await site.log_in(page)
    assert_error_page(response, 400, "missing, altered or too old")


async def test_a_sealed_request_is_validated_again(site: Site) -> None:
    """A client disabled while its login page was open gets no code."""
    page, _ = await authorize(site.browser)
    async with site.runtime.database.session() as session:
        row = await clients.by_id(session, "spa")
        assert row is not None
        row.disabled = True
    site.runtime.server.clients.forget("spa")
    response = await site.log_in(page)
    assert_error_page(response, 400, "unknown client")


async def test_405_on_a_page_is_an_html_answer(site: Site) -> None:
    for method, path in (
        ("PUT", "/oauth/login"),
        ("GET", "/oauth/consent"),
        ("DELETE", "/oauth/authorize"),
        ("POST", "/oauth/static/issuer.css"),
    ):
        response = await site.browser.request(method, path)
        assert_error_page(response, 405, "Method Not Allowed")
        assert "allow" in response.headers


async def test_a_malformed_form_is_an_html_error(site: Site) -> None:
    page, _ = await authorize(site.browser)
    action, fields = the_form(page)
    response = await site.browser.post(
        action,
        content=b"csrf_token=a&csrf_token=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error_page(response, 400, "more than once")
    response = await site.browser.post(action, json=fields)
    assert_error_page(response, 400, "x-www-form-urlencoded")
    response = await site.browser.post(action, data={**fields, "email": "x" * 20_000})
    assert_error_page(response, 413, "too large")


# -- sessions: SSO, prompt, max_age -----------------------------------------------------------


async def test_a_second_client_in_the_same_browser_needs_no_login_page(site: Site) -> None:
    await site.log_in((await authorize(site.browser))[0])
    response, _ = await authorize(site.browser, client_id="third", redirect_uri=THIRD_URI)
    assert response.status_code == 200 and "consent" in the_form(response)[0]
    allowed = await submit(site.browser, response, decision="allow")
    assert "code" in assert_redirect(allowed, THIRD_URI)
    # The first client again: straight back with a code, no page at all.
    again, _ = await authorize(site.browser)
    assert again.status_code == 302
    assert "code" in assert_redirect(again)


async def test_prompt_none_with_a_session_gets_a_code(site: Site) -> None:
    await site.log_in((await authorize(site.browser))[0])
    response, _ = await authorize(site.browser, prompt="none")
    assert "code" in assert_redirect(response)


@pytest.mark.parametrize("prompt", ["", "none"])
@pytest.mark.parametrize("ended_by", ["logout elsewhere", "expiry", "a disabled user"])
async def test_a_cookie_whose_session_is_no_longer_live_is_no_session(
    site: Site, prompt: str, ended_by: str
) -> None:
    await site.log_in((await authorize(site.browser))[0])
    session_id = browser_sessions.session_id_of(site.browser.cookies["issuer_session"])
    database = site.runtime.database
    async with database.session() as session:
        if ended_by == "logout elsewhere":
            await browser_sessions.end(session, session_id, now=site.clock())
        elif ended_by == "a disabled user":
            await users.set_disabled(session, site.user_id, True)
    if ended_by == "expiry":
        site.clock.advance(site.runtime.settings.session_lifetime)
    async with database.session() as session:
        codes_before = await session.scalar(select(func.count()).select_from(AuthorizationCode))
    response, _ = await authorize(site.browser, prompt=prompt)
    if prompt == "none":
        query = assert_redirect(response)
        assert (query["error"], query["state"]) == ("login_required", "st-1")
    else:
        assert response.status_code == 200, response.text
        action, fields = the_form(response)
        assert action == "/oauth/login" and fields["email"] == ""
    async with database.session() as session:
        codes = await session.scalar(select(func.count()).select_from(AuthorizationCode))
    assert codes == codes_before  # no code for a session that is not live
    if ended_by != "a disabled user" and prompt == "":
        assert "code" in assert_redirect(await site.log_in(response))


async def test_prompt_login_asks_again_and_keeps_the_session(site: Site) -> None:
    first = await site.log_in((await authorize(site.browser))[0])
    cookie = site.browser.cookies["issuer_session"]
    page, _ = await authorize(site.browser, prompt="login")
    assert page.status_code == 200 and the_form(page)[0] == "/oauth/login"
    inputs = {field.get("name"): field for field in parse(page.text).inputs}
    assert inputs["email"]["value"] == "ada@example.com"  # the session's user, to confirm
    site.clock.advance(5)
    again = await site.log_in(page)
    assert "code" in assert_redirect(again)  # no loop back to the login page
    assert site.browser.cookies["issuer_session"] == cookie  # the same session, re-authenticated
    assert first.status_code == 303


async def test_max_age_passed_asks_for_the_password_again(site: Site) -> None:
    await site.log_in((await authorize(site.browser))[0])
    site.clock.advance(120)
    recent, _ = await authorize(site.browser, max_age="300")
    assert "code" in assert_redirect(recent)
    stale, _ = await authorize(site.browser, max_age="60")
    assert stale.status_code == 200 and the_form(stale)[0] == "/oauth/login"
    assert "code" in assert_redirect(await site.log_in(stale))
    # auth_time is now: max_age=60 is satisfied without a page.
    fresh, _ = await authorize(site.browser, max_age="60")
    assert "code" in assert_redirect(fresh)


async def test_another_user_logging_in_ends_the_previous_session(site: Site) -> None:
    await add_user(site.runtime.database, site.runtime, "bob@example.com")
    await site.log_in((await authorize(site.browser))[0])
    ada_cookie = site.browser.cookies["issuer_session"]
    page, _ = await authorize(site.browser, prompt="login")
    await submit(
        site.browser, page, email="bob@example.com", password="correct horse battery staple"
    )
    assert site.browser.cookies["issuer_session"] != ada_cookie
    site.browser.cookies.set("issuer_session", ada_cookie, domain="127.0.0.1")
    response, _ = await authorize(site.browser, prompt="none")
    assert assert_redirect(response)["error"] == "login_required"


# -- consent ----------------------------------------------------------------------------------


async def third_party_consent(site: Site, **params: str) -> httpx.Response:
    page, _ = await authorize(site.browser, client_id="third", redirect_uri=THIRD_URI, **params)
    return await site.log_in(page)


async def test_consent_names_the_client_and_the_scopes_in_words(site: Site) -> None:
    page = await third_party_consent(site, scope="openid email offline_access read")
    assert page.status_code == 200
    assert_page_headers(page, form_target="https://third.example.net")
    assert "Third Party" in page.text and "ada@example.com" in page.text
    for words in ("See your e-mail address", "Stay signed in", "“read”"):
        assert words in page.text
    buttons = parse(page.text).forms[0]["buttons"]
    assert buttons == [("decision", "allow"), ("decision", "deny")]


async def test_consent_allowed_is_remembered(site: Site) -> None:
    page = await third_party_consent(site)
    allowed = await submit(site.browser, page, decision="allow")
    assert allowed.status_code == 303
    assert "code" in assert_redirect(allowed, THIRD_URI)
    again, _ = await authorize(site.browser, client_id="third", redirect_uri=THIRD_URI)
    assert "code" in assert_redirect(again, THIRD_URI)
    # A scope not granted yet is asked for (and only it).
    more, _ = await authorize(
        site.browser, client_id="third", redirect_uri=THIRD_URI, scope="openid write"
    )
    assert more.status_code == 200 and "“write”" in more.text and "“read”" not in more.text


async def test_consent_denied_is_access_denied_at_the_client(site: Site) -> None:
    page = await third_party_consent(site)
    denied = await submit(site.browser, page, decision="deny")
    query = assert_redirect(denied, THIRD_URI)
    assert (query["error"], query["state"]) == ("access_denied", "st-1")
    # Nothing remembered: prompt=none now says consent_required.
    silent, _ = await authorize(
        site.browser, client_id="third", redirect_uri=THIRD_URI, prompt="none"
    )
    assert assert_redirect(silent, THIRD_URI)["error"] == "consent_required"


async def test_a_consent_form_is_good_only_for_its_session(site: Site) -> None:
    page = await third_party_consent(site)
    action, fields = the_form(page)
    # The session's user logs in again (prompt=login): the session is the same, the form too.
    login_form, _ = await authorize(site.browser, prompt="login")
    login_pending = the_form(login_form)[1]["pending"]
    posted = await site.browser.post(
        action, data={**fields, "pending": login_pending, "decision": "allow"}
    )
    assert_error_page(posted, 400, "missing, altered or too old")
    # Without a session at all, no consent is recorded.
    site.browser.cookies.delete("issuer_session")
    posted = await site.browser.post(action, data={**fields, "decision": "allow"})
    assert_error_page(posted, 400, "no longer signed in")


async def test_a_consent_decision_must_be_allow_or_deny(site: Site) -> None:
    page = await third_party_consent(site)
    response = await submit(site.browser, page, decision="maybe")
    assert_error_page(response, 400, "Choose Allow or Deny")


# -- cookies on an https issuer ---------------------------------------------------------------


async def test_cookies_on_an_https_issuer_are_host_prefixed_and_secure(
    settings: Settings, tmp_path: Path
) -> None:
    https = make_settings(
        settings.database_url, tmp_path / "https", ISSUER_URL="https://login.example.com"
    )
    async with serving(https) as site:
        page, _ = await authorize(site.browser)
        csrf = set_cookies(page)["__Host-issuer_csrf"]
        assert {part.strip().lower() for part in csrf.split(";")[1:]} == {
            "httponly",
            "path=/",
            "samesite=lax",
            "secure",
        }
        response = await site.log_in(page)
        assert "code" in query_of(response.headers["location"])
        session = set_cookies(response)["__Host-issuer_session"]
        assert {part.strip().lower() for part in session.split(";")[1:]} == {
            "httponly",
            "path=/",
            "samesite=lax",
            "secure",
            "max-age=86400",
        }
        assert "strict-transport-security" in response.headers
        assert urlsplit(response.headers["location"]).netloc == "app.example.com"


# -- an issuer under a path; the database going away -------------------------------------------


async def test_pages_live_under_the_issuer_path(settings: Settings, tmp_path: Path) -> None:
    tenant = "http://127.0.0.1:8000/tenant-a"
    prefixed = make_settings(settings.database_url, tmp_path / "t", ISSUER_URL=tenant)
    async with serving(prefixed) as site:
        page, _ = await authorize(site.browser)  # the browser's base is ISSUER_URL
        assert page.request.url.path == "/tenant-a/oauth/authorize"
        assert the_form(page)[0] == "/tenant-a/oauth/login"
        stylesheet = re.search(r'href="([^"]+)"', page.text)[1]  # type: ignore[index]
        assert stylesheet.startswith("/tenant-a/oauth/static/issuer.css?v=")
        css = await site.browser.get(site.browser.base_url.join(stylesheet))
        assert css.status_code == 200
        response = await site.log_in(page)
        assert query_of(response.headers["location"])["iss"] == tenant
        refused = await site.browser.put("/oauth/login")
        assert refused.status_code == 405 and "text/html" in refused.headers["content-type"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_lost_database_is_a_503_page_never_a_500(site: Site, settings: Settings) -> None:
    await site.log_in((await authorize(site.browser))[0])
    other = Database(settings.database_url)
    try:
        for _ in range(3):
            assert await terminate_other_backends(other) >= 1
            await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled sockets
            response, _ = await authorize(site.browser, prompt="none")
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                assert_error_page(response, 503, "try again in a moment")
                response, _ = await authorize(site.browser, prompt="none")
            assert "code" in assert_redirect(response)
    finally:
        await other.dispose()


async def test_prompt_consent_asks_even_a_first_party_client(site: Site) -> None:
    await site.log_in((await authorize(site.browser))[0])
    page, _ = await authorize(site.browser, prompt="consent")
    assert page.status_code == 200 and the_form(page)[0] == "/oauth/consent"
    assert "Example SPA" in page.text
    allowed = await submit(site.browser, page, decision="allow")
    assert "code" in assert_redirect(allowed)


async def test_the_session_lasts_issuer_session_lifetime(
    settings: Settings, tmp_path: Path
) -> None:
    short = make_settings(settings.database_url, tmp_path / "s", ISSUER_SESSION_LIFETIME=60)
    async with serving(short) as site:
        response = await site.log_in((await authorize(site.browser))[0])
        assert "max-age=60" in set_cookies(response)["issuer_session"].lower()
        site.clock.advance(59)
        assert "code" in assert_redirect((await authorize(site.browser, prompt="none"))[0])
        site.clock.advance(2)
        expired, _ = await authorize(site.browser, prompt="none")
        assert assert_redirect(expired)["error"] == "login_required"
