"""ISSUER_TRUSTED_PROXIES: parsing, the client address behind proxies, and `issuer serve`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from issuer.cli import build_parser, uvicorn_options
from issuer.oauth.throttle import CEILING_FACTOR
from issuer.proxies import client_address
from issuer.settings import ConfigError, Settings
from tests.served import wait_ready
from tests.test_serve import clean_env, free_port

TRUSTED = ("10.0.0.0/8", "2001:db8::/32")


def test_the_setting_takes_addresses_and_cidrs() -> None:
    env = {"ISSUER_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,"}
    settings = Settings.from_env(env)
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32")
    assert Settings.from_env({}).trusted_proxies == ()


@pytest.mark.parametrize("value", ["nope", "10.0.0.1/8", "192.0.2.300", "10.0.0.0/8;1.2.3.4"])
def test_a_bad_value_is_one_line_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"ISSUER_TRUSTED_PROXIES": value})
    message = str(error.value)
    assert message.startswith("ISSUER_TRUSTED_PROXIES must be") and "\n" not in message


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # An untrusted peer: whatever it forwards is its own say.
        ("198.51.100.1", ["192.0.2.9"], "198.51.100.1"),
        # A trusted peer: the right-most hop that is not a trusted proxy.
        ("10.0.0.5", ["192.0.2.9"], "192.0.2.9"),
        ("10.0.0.5", ["6.6.6.6, 192.0.2.9, 10.1.1.1"], "192.0.2.9"),
        ("10.0.0.5", ["6.6.6.6", "192.0.2.9, 10.1.1.1"], "192.0.2.9"),
        ("10.0.0.5", ["192.0.2.9:4711, [2001:db8::1]:443"], "192.0.2.9"),
        ("2001:db8::7", ["[2001:db9::1]:443"], "2001:db9::1"),
        # Every hop a trusted proxy: the first; no header: the peer.
        ("10.0.0.5", ["10.2.2.2, 10.1.1.1"], "10.2.2.2"),
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", [" , "], "10.0.0.5"),
        (None, ["192.0.2.9"], "unknown"),
    ],
)
def test_the_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, TRUSTED) == expected


def test_with_no_trusted_proxy_forwarded_for_is_never_believed() -> None:
    assert client_address("127.0.0.1", ["192.0.2.9"], ()) == "127.0.0.1"


def test_serve_gives_uvicorn_the_trusted_proxies_and_nothing_else() -> None:
    args = build_parser().parse_args(["serve"])
    default = uvicorn_options(args, Settings.from_env({}))
    assert default["proxy_headers"] is False and default["forwarded_allow_ips"] == []
    trusting = Settings.from_env({"ISSUER_TRUSTED_PROXIES": "10.0.0.0/8,::1"})
    options = uvicorn_options(args, trusting)
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.0/8", "::1/128"]


def test_issuer_serve_does_not_believe_forwarded_for_by_default(tmp_path: Path) -> None:
    """uvicorn alone trusts X-Forwarded-For from 127.0.0.1: a local front end then let every
    guess name its own address, and the per-address ceiling never applied."""
    port, env = free_port(), clean_env()
    issuer = [sys.executable, "-m", "issuer"]
    server = subprocess.Popen(
        [*issuer, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(wait_for(port))
        created = subprocess.run(
            [*issuer, "clients", "create", "web", "--grant-type", "password", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        secret = json.loads(created.stdout)["client_secret"]
        ceiling = CEILING_FACTOR * Settings.from_env({}).login_max_failures
        statuses = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for n in range(ceiling + 1):
                response = http.post(
                    "/oauth/token",
                    data={"grant_type": "password", "username": f"u{n}@x.test", "password": "x"},
                    auth=("web", secret),
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
                statuses.append(response.status_code)
        assert statuses == [400] * ceiling + [429]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output


async def wait_for(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        await wait_ready(http)
