"""The bench's `code` scenario up to wrk, against a real `issuer serve`: its browser logs
in through the hosted pages once per connection (the first code exchanged for an access
token and an ID token signed with the row's alg), and what lua/bench.lua is handed — one
session cookie per connection, the authorization request it completes, the PKCE pool —
gets a code at once, with no page in between, and the code its tokens."""

from __future__ import annotations

import asyncio
import urllib.parse
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from bench.common import CODE_SCOPE, REDIRECT_URI
from bench.harness import parse_args
from bench.loopback import CodeClient, discover
from bench.scenarios import Target, code_flow
from issuer.clock import utcnow
from issuer.runtime import Runtime
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.login_support import add_login_client
from tests.oauth.support import PASSWORD, add_user
from tests.served import issuer_serve

EMAIL = "bench@example.com"


def lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


async def test_the_code_scenario_logs_in_once_per_connection_then_gets_codes_at_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")
    async with issuer_serve(settings, tmp_path) as served:
        database = Database(database_url)
        try:
            helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=settings))
            await add_user(database, helpers, EMAIL)
            await add_login_client(
                database,
                utcnow(),
                "bench-code",
                grant_types=("authorization_code",),
                scopes=("api",),
                audiences=("urn:bench:api",),
                redirect_uris=(REDIRECT_URI,),
                id_token_alg="RS256",
            )
        finally:
            await database.dispose()
        target = Target(
            kind="issuer",
            base=served.url,
            discovery=await asyncio.to_thread(discover, served.url),
            alg="RS256",
            workers=1,
            cc_auth="",
            opts=parse_args(["--scenarios", "code", "--algs", "RS256"]),
            tmp=tmp_path,
            p80=False,
            code_client=CodeClient(
                "bench-code", REDIRECT_URI, CODE_SCOPE, {"email": EMAIL, "password": PASSWORD}
            ),
        )
        load = await asyncio.to_thread(code_flow, target)
        env = {**load.env, **await asyncio.to_thread(load.before, 2)}
        cookies = await asyncio.to_thread(lines, env["COOKIES"])
        pool = [line.split(" ") for line in await asyncio.to_thread(lines, env["PKCE"])]
        verifier, challenge = pool[7]
        # One turn of the Lua loop on connection 2: authorize with its cookie, then exchange.
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            authorized = await http.get(
                f"{env['AUTHORIZE']}&code_challenge={challenge}&state=2-7&nonce=n2-7",
                headers={"Cookie": cookies[1]},
            )
            assert authorized.status_code == 302, authorized.text
            location = urllib.parse.urlsplit(authorized.headers["location"])
            answer = dict(urllib.parse.parse_qsl(location.query))
            assert answer["state"] == "2-7"
            exchanged = await http.post(
                env["TOKEN"],
                content=(
                    f"grant_type=authorization_code&code={answer['code']}"
                    f"&code_verifier={verifier}&redirect_uri={env['REDIRECT_URI']}"
                    f"&client_id={env['CLIENT_ID']}"
                ),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert exchanged.status_code == 200, exchanged.text
        assert {"access_token", "id_token"} <= set(exchanged.json())

    assert load.chains and env["MODE"] == "code"
    assert load.url == f"{served.url}/oauth/token" and env["TOKEN"] == "/oauth/token"
    assert len(set(cookies)) == 2 and all("issuer_session=" in c for c in cookies)
    assert len(pool) == 256 and all(len(pair) == 2 for pair in pool)
    start = urllib.parse.urlsplit(env["AUTHORIZE"])
    assert start.path == "/oauth/authorize"
    assert dict(urllib.parse.parse_qsl(start.query)) == {
        "response_type": "code",
        "client_id": "bench-code",
        "redirect_uri": REDIRECT_URI,
        "scope": CODE_SCOPE,
        "code_challenge_method": "S256",
    }
    assert urllib.parse.unquote(env["REDIRECT_URI"]) == REDIRECT_URI
