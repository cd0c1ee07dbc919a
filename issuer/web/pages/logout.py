"""RP-Initiated Logout 1.0: GET|POST /oauth/logout, and POST /oauth/logout/confirm when the
user must confirm (no valid id_token_hint for the session's user).

The rules (hint, client, post_logout_redirect_uri, state) are `authorization.logout`'s; they
are checked again on confirmation, from the sealed request.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post, route

from issuer.oauth.authorization import logout as logout_outcome
from issuer.web.deps import RuntimeDep
from issuer.web.discovery import END_SESSION_PATH
from issuer.web.pages.page import LOGOUT_CONFIRM_PATH, Page
from issuer.web.pages.sessions import current_session, log_out

__all__ = ["ROUTES", "confirm_logout", "logout"]

# RP-Initiated Logout 1.0 §2: the request parameters this issuer reads.
LOGOUT_PARAMS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


@route(END_SESSION_PATH, http_method=["GET", "POST"], include_in_schema=False)
async def logout(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Any]:
    """§2: GET and POST MUST both be supported."""
    page = Page(request, runtime)
    params = await page.params()
    browser_session = await current_session(page)
    outcome = await logout_outcome(runtime.server, params, browser_session, now=page.now)
    if outcome.confirm_needed:
        # Only what `logout` read, each once (it refused a repeated one).
        sealed = {name: params[name][0] for name in LOGOUT_PARAMS if params.get(name)}
        return page.render(
            "logout.html",
            redirect_target=outcome.location,
            pending=page.seal("logout", sealed),
            client_name=outcome.client_name,
        )
    await log_out(page, browser_session)
    return _after_logout(page, outcome.location)


@post(LOGOUT_CONFIRM_PATH, include_in_schema=False, status_code=200)
async def confirm_logout(request: Request[Any, Any, Any], runtime: RuntimeDep) -> Response[Any]:
    page = Page(request, runtime)
    form = await page.form()
    page.check_csrf(form)
    params = page.unseal("logout", form)
    browser_session = await current_session(page)
    outcome = await logout_outcome(runtime.server, params, browser_session, now=page.now)
    await log_out(page, browser_session)
    return _after_logout(page, outcome.location)


def _after_logout(page: Page, location: str | None) -> Response[Any]:
    """Back to the client's registered post-logout URI, or our own "signed out" page."""
    if location is not None:
        return page.redirect(location)
    return page.render("logged_out.html", with_form=False)


ROUTES = [logout, confirm_logout]
