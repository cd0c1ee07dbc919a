"""The browser session (SSO) behind the session cookie, as the pages see it."""

from __future__ import annotations

from issuer.oauth.authorization import end_browser_session
from issuer.store import browser_sessions
from issuer.store.browser_sessions import BrowserSession
from issuer.web.pages.page import SESSION_COOKIE, Page

__all__ = ["cookie_session_id", "current_session", "log_in", "log_out"]


async def current_session(page: Page) -> BrowserSession | None:
    """The live session of the browser's cookie, if any."""
    cookie_value = page.cookie(SESSION_COOKIE)
    if cookie_value is None:
        return None
    return await browser_sessions.find(page.runtime.database, cookie_value, now=page.now)


def cookie_session_id(cookie_value: str | None) -> str | None:
    """The id of the session a session cookie names, not read: whether that session is
    live is for the statement that uses it to check (`issue_code`)."""
    if not cookie_value or len(cookie_value) > browser_sessions.MAX_COOKIE_LENGTH:
        return None
    return browser_sessions.session_id_of(cookie_value)


async def log_in(page: Page, user_id: str, previous: BrowserSession | None) -> BrowserSession:
    """A user has just authenticated: their session, and its cookie.

    A session the browser already held for the same user is re-authenticated in place
    (auth_time now, a new expiry), so the refresh families started in it live on and one
    logout still ends them all; its cookie was already that user's, so nothing is fixated.
    Any other login gets a new session and a new cookie value (a cookie planted before the
    login never becomes an authenticated one), and another user's session ends here.
    """
    server = page.runtime.server
    if previous is not None and previous.user_id != user_id:
        await end_browser_session(server, previous, now=page.now)
        previous = None
    lifetime = page.settings.session_lifetime
    async with page.runtime.database.session() as session:
        cookie_value = page.cookie(SESSION_COOKIE)
        again = None
        if previous is not None and cookie_value is not None:
            again = await browser_sessions.reauthenticate(
                session, previous.id, now=page.now, lifetime=lifetime
            )
        if again is None or cookie_value is None:
            cookie_value, again = await browser_sessions.start(
                session, user_id=user_id, now=page.now, lifetime=lifetime
            )
    page.set_cookie(SESSION_COOKIE, cookie_value, max_age=lifetime)
    return again


async def log_out(page: Page, browser_session: BrowserSession | None) -> None:
    """End the session (and revoke the refresh families started in it); forget the cookie."""
    if browser_session is not None:
        await end_browser_session(page.runtime.server, browser_session, now=page.now)
    if page.cookie(SESSION_COOKIE) is not None:
        page.clear_cookie(SESSION_COOKIE)
