"""The hosted login in a real browser (Debian's headless Chromium), on both databases:
log in, consent, the code at a loopback redirect URI, SSO into a second client, logout;
the same by keyboard alone; labels, focus and error text a screen reader can follow.

The login page's screenshot is written to docs/screenshots/login.png (the README shows it).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import BrowserContext, Locator, Page, Response, expect

from issuer.web.pages.page import SESSION_COOKIE
from tests.e2e.flow import (
    ALLOW,
    EMAIL,
    EMAIL_LABEL,
    PASSWORD,
    PASSWORD_LABEL,
    World,
    at,
    sign_in,
)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def issuer_pages(page: Page, world: World) -> list[str]:
    """Records every HTML page the issuer serves to `page` from now on."""
    served: list[str] = []

    def seen(response: Response) -> None:
        content_type = response.headers.get("content-type", "")
        if response.url.startswith(world.issuer.url) and "text/html" in content_type:
            served.append(response.url)

    page.on("response", seen)
    return served


def test_login_consent_sso_and_logout(world: World, page: Page, context: BrowserContext) -> None:
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # 1. The first client sends the browser to the hosted login page.
    first = world.authorize(world.first)
    page.goto(first.url)
    expect(page.get_by_label(EMAIL_LABEL)).to_be_focused()
    expect(page.get_by_text("Example ID").first).to_be_visible()  # ISSUER_DISPLAY_NAME
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "login.png")

    # 2. Log in; consent names the client and the scopes; allow.
    sign_in(page)
    expect(page.get_by_text(world.first.name).first).to_be_visible()
    asked = page.get_by_role("listitem").filter(has_text=re.compile(r"e-?mail", re.IGNORECASE))
    expect(asked).to_have_count(1)  # the email scope, in words
    page.get_by_role("button", name=ALLOW).click()

    # 3. The code arrives at the loopback redirect URI; the exchange gives a verified ID token.
    page.wait_for_url(at(world.first.redirect_uri))
    code = world.code(first)
    tokens = world.exchange(first, code)
    claims = world.id_token_claims(first, tokens)
    userinfo = httpx.get(
        world.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == claims["email"] == EMAIL

    # The code was single use.
    again = httpx.post(
        world.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": world.first.redirect_uri,
            "code_verifier": first.code_verifier,
            "client_id": world.first.client_id,
        },
        timeout=10,
    )
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")

    # The browser session cookie: HttpOnly, SameSite=Lax, host-wide.
    [cookie] = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/")

    # 4. SSO: the second client gets a code in the same browser without any issuer page.
    served = issuer_pages(page, world)
    second = world.authorize(world.second)
    page.goto(second.url)
    page.wait_for_url(at(world.second.redirect_uri))
    assert served == []
    second_tokens = world.exchange(second, world.code(second))
    second_claims = world.id_token_claims(second, second_tokens)
    assert second_claims["sub"] == claims["sub"]
    assert second_claims["auth_time"] == claims["auth_time"]
    assert "refresh_token" in second_tokens  # app-two may refresh: a family in this session

    # 5. RP-initiated logout with a valid id_token_hint: no confirmation, back to the client.
    logout = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": world.first.post_logout_redirect_uri,
        "state": "after-logout",
    }
    page.goto(f"{world.metadata['end_session_endpoint']}?{urlencode(logout)}")
    page.wait_for_url(at(world.first.post_logout_redirect_uri))
    assert world.loopback.last("/one/logged-out")["state"] == "after-logout"
    # The session's refresh families were revoked with it.
    refresh = httpx.post(
        world.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": second_tokens["refresh_token"]},
        auth=(world.second.client_id, world.second.secret or ""),
        timeout=10,
    )
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")

    # 6. The next authorization asks for a login again; the consent is remembered.
    third = world.authorize(world.first)
    page.goto(third.url)
    sign_in(page)
    page.wait_for_url(at(world.first.redirect_uri))
    third_claims = world.id_token_claims(third, world.exchange(third, world.code(third)))
    assert third_claims["sub"] == claims["sub"]
    assert third_claims["sid"] != claims["sid"]
    assert console_errors == []  # no CSP violation, no missing stylesheet


def focus_by_tab(page: Page, target: Locator, *, limit: int = 20) -> None:
    """Presses Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} is not reachable with Tab")


def test_keyboard_only_login(world: World, page: Page) -> None:
    authorization = world.authorize(world.first)
    page.goto(authorization.url)
    email, password = page.get_by_label(EMAIL_LABEL), page.get_by_label(PASSWORD_LABEL)
    expect(email).to_be_focused()
    assert has_focus_indicator(email)
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    assert has_focus_indicator(password)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    allow = page.get_by_role("button", name=ALLOW)
    expect(allow).to_be_visible()
    focus_by_tab(page, allow)
    assert has_focus_indicator(allow)
    page.keyboard.press("Enter")

    page.wait_for_url(at(world.first.redirect_uri))
    world.id_token_claims(authorization, world.exchange(authorization, world.code(authorization)))


def has_focus_indicator(element: Locator) -> bool:
    """A focused control is visibly marked (an outline or a ring), not only by colour."""
    return bool(
        element.evaluate(
            """element => {
                const style = getComputedStyle(element);
                const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
                return outline || style.boxShadow !== 'none';
            }"""
        )
    )


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden')
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby')
                  && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map(el => el.outerHTML)"""


def test_login_page_is_labelled_and_errors_are_tied_to_fields(world: World, page: Page) -> None:
    authorization = world.authorize(world.first, login_hint=EMAIL)
    page.goto(authorization.url)
    assert page.evaluate("document.documentElement.lang")
    assert page.title()
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate(UNLABELLED) == []
    email, password = page.get_by_label(EMAIL_LABEL), page.get_by_label(PASSWORD_LABEL)
    expect(email).to_have_value(EMAIL)  # login_hint fills the e-mail
    expect(password).to_have_attribute("type", "password")
    expect(email).to_have_attribute("autocomplete", re.compile(r"username|email"))
    expect(password).to_have_attribute("autocomplete", "current-password")

    # A wrong password: one generic message, tied to the fields, the form shown again.
    sign_in(page, password="not the password at all")
    described = page.get_by_label(PASSWORD_LABEL).get_attribute("aria-describedby")
    assert described, "the error is not tied to the password field"
    message = " ".join(page.locator(f"#{id_}").inner_text() for id_ in described.split())
    assert re.search(r"e-?mail|password", message, re.IGNORECASE), message
    expect(page.get_by_role("alert")).to_have_text(message)  # announced when it appears
    expect(page.get_by_label(PASSWORD_LABEL)).to_have_attribute("aria-invalid", "true")
    wrong_password_message = message

    # An unknown e-mail gets the very same words: the page does not tell accounts apart.
    sign_in(page, email="nobody@example.com", password="not the password at all")
    described = page.get_by_label(PASSWORD_LABEL).get_attribute("aria-describedby") or ""
    message = " ".join(page.locator(f"#{id_}").inner_text() for id_ in described.split())
    assert message == wrong_password_message
    assert page.evaluate(UNLABELLED) == []

    # Then the right one, to the consent page: every control labelled there too.
    sign_in(page)
    expect(page.get_by_role("button", name=ALLOW)).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate("document.documentElement.lang")
