"""openid-client (panva's, from npm, unmodified) logs a user in through the hosted page in a
real browser: discovery, PKCE, the code grant as a public client, the ID token's signature
and claims checked, UserInfo, RP-initiated logout. tests/run installs it (`npm ci` in
tests/e2e/openid_client/); nothing is downloaded while the test runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.flow import ALLOW, EMAIL, Client, World, at, sign_in

PACKAGE = Path(__file__).resolve().parent / "openid_client"


class RelyingParty:
    """relying_party.mjs under node, spoken to one JSON line at a time."""

    def __init__(self, world: World, client: Client) -> None:
        node = shutil.which("node")
        if node is None or not (PACKAGE / "node_modules" / "openid-client").is_dir():
            pytest.fail(
                f"openid-client is not installed: run `npm ci` in {PACKAGE} (tests/run does "
                "when node is on the PATH)",
                pytrace=False,
            )
        self.process = subprocess.Popen(
            [node, "relying_party.mjs", world.issuer.url, client.client_id,
             client.redirect_uri, client.post_logout_redirect_uri],
            cwd=PACKAGE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"relying_party.mjs ended (exit {self.process.wait(timeout=30)})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n")
        self.process.stdin.flush()

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def test_openid_client_logs_in_and_out(world: World, page: Page) -> None:
    relying_party = RelyingParty(world, world.first)
    try:
        started = relying_party.read()
        assert "error" not in started, started
        page.goto(started["authorization_url"])
        sign_in(page)
        page.get_by_role("button", name=ALLOW).click()
        page.wait_for_url(at(world.first.redirect_uri))
        callback = page.url
        relying_party.send(callback)
        done = relying_party.read()
    finally:
        exit_code = relying_party.close()
    assert "error" not in done, done
    assert exit_code == 0
    claims = done["claims"]
    assert (claims["iss"], claims["aud"], claims["email"]) == (
        world.issuer.url,
        world.first.client_id,
        EMAIL,
    )
    assert done["userinfo"]["sub"] == claims["sub"]

    page.goto(done["end_session_url"])
    page.wait_for_url(at(world.first.post_logout_redirect_uri))

    # openid-client really checks the response: the same callback against another
    # request (its own state) is refused before any code is exchanged.
    other = RelyingParty(world, world.first)
    try:
        other.read()
        other.send(callback)
        refused = other.read()
    finally:
        assert other.close() == 1
    assert refused["code"] == "OAUTH_INVALID_RESPONSE", refused
    assert '"state"' in refused["cause"], refused
