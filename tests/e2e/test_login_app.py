"""examples/login_app against a live issuer and the example resource service, in a real
browser, as its README runs them: sign in on the hosted page, see the claims and the
resource service's answer, sign out of the app and of the issuer."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from litestar.testing import TestClient
from playwright.sync_api import Page, expect

from examples.login_app.app import Config, create_app
from tests.e2e.flow import EMAIL, EMAIL_LABEL, PASSWORD, PASSWORD_LABEL, Client, at, register
from tests.live import LiveIssuer, background, serve_issuer
from tests.test_serve import clean_env, free_port

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def login_app(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveIssuer, str]]:
    """The README's four steps, on free ports: issuer, user + client, resource service, app."""
    with ExitStack() as stack:
        issuer = stack.enter_context(serve_issuer(database_url, tmp_path))
        app_url = f"http://127.0.0.1:{free_port()}"
        resource_url = f"http://127.0.0.1:{free_port()}"
        register(
            issuer,
            Client(
                "login-app", "Example login app", f"{app_url}/callback", f"{app_url}/",
                audience="orders-api",
            ),
        )  # fmt: skip
        uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port"]
        env = clean_env() | {"ISSUER_URL": issuer.url}
        stack.enter_context(
            background(
                [*uvicorn, resource_url.rsplit(":", 1)[1], "examples.resource_service.app:app"],
                ready_url=f"{resource_url}/public",
                cwd=REPOSITORY,
                env=env | {"RESOURCE_AUDIENCE": "orders-api"},
            )
        )
        stack.enter_context(
            background(
                [*uvicorn, app_url.rsplit(":", 1)[1], "examples.login_app.app:app"],
                ready_url=f"{app_url}/",
                cwd=REPOSITORY,
                env=env | {"LOGIN_APP_URL": app_url, "RESOURCE_URL": resource_url},
            )
        )
        yield issuer, app_url


def test_sign_in_see_claims_call_the_resource_service_sign_out(
    login_app: tuple[LiveIssuer, str], page: Page
) -> None:
    issuer, app_url = login_app
    page.goto(app_url)
    page.get_by_role("link", name="Sign in with the issuer").click()

    # The issuer's hosted login page; no consent for this first-party client.
    expect(page).to_have_url(at(f"{issuer.url}/oauth/authorize"))
    page.get_by_label(EMAIL_LABEL).fill(EMAIL)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label(PASSWORD_LABEL).press("Enter")

    # Back at the app: the ID token's claims, and the resource service accepted the token.
    expect(page).to_have_url(at(f"{app_url}/"))
    expect(page.get_by_text(f"Signed in as {EMAIL}")).to_be_visible()
    claims = json.loads(page.locator("#claims").inner_text())
    assert (claims["iss"], claims["aud"], claims["email"]) == (issuer.url, "login-app", EMAIL)
    resource = json.loads(page.locator("#resource").inner_text())
    assert (resource["sub"], resource["client_id"]) == (claims["sub"], "login-app")

    # Sign out: the app forgets the user and the issuer ends its session.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(at(f"{app_url}/"))
    expect(page.get_by_role("link", name="Sign in with the issuer")).to_be_visible()
    page.get_by_role("link", name="Sign in with the issuer").click()
    expect(page.get_by_label(EMAIL_LABEL)).to_be_visible()  # a login again: no SSO left


def test_a_bad_or_foreign_callback_is_a_400_page_not_a_500() -> None:
    """What reaches /callback without a pending sign-in, or with the issuer's error."""
    app = create_app(Config("http://127.0.0.1:9", "http://127.0.0.1:9100", "login-app", None, ""))
    with TestClient(app) as client:
        denied = client.get("/callback", params={"error": "access_denied", "state": "s"})
        assert denied.status_code == 400
        assert "access_denied" in denied.text
        foreign = client.get("/callback", params={"code": "c", "state": "never-issued"})
        assert foreign.status_code == 400
        assert "unknown, reused or incomplete" in foreign.text
