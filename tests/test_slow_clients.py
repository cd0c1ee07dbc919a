"""Slow clients cannot hold the server (issue 13, item 7), against `issuer serve` over real
sockets on SQLite and Postgres: a body that stalls after its headers (or drips in) is a 408
in the RFC 6749 §5.2 shape within ISSUER_BODY_READ_TIMEOUT_SECONDS, and the connection is
closed; SIGTERM with such clients still connected exits within ISSUER_SHUTDOWN_TIMEOUT_SECONDS,
answering them 503 (never uvicorn's 500 and a logged traceback)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from issuer.cli import build_parser, uvicorn_options
from issuer.settings import Settings
from tests.conftest import make_settings
from tests.oauth.support import serving_in_loop
from tests.served import Served, issuer_serve
from tests.web.conftest import admin_rows, mint_admin

BODY = b"grant_type=client_credentials&client_id=svc&client_secret=" + b"s" * 40


async def stall(
    served: Served, path: str, *, drip: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Headers that promise BODY, then a tenth of it; then nothing (or a byte at a time).
    The writer is the caller's to keep: dropping it would close the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    )
    writer.write(head.encode() + BODY[:10])
    await writer.drain()
    if drip:

        async def drip_feed() -> None:
            for byte in BODY[10:-1]:
                await asyncio.sleep(0.2)
                writer.write(bytes([byte]))
                await writer.drain()

        asyncio.get_running_loop().create_task(drip_feed())
    return reader, writer


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split(" ")[1]), {k.lower(): v for k, v in fields.items()}, body


@pytest.mark.parametrize(
    ("path", "drip"),
    [("/oauth/token", False), ("/oauth/token", True), ("/oauth/revoke", False)],
)
async def test_a_stalled_body_is_408_and_the_connection_closed_within_the_timeout(
    database_url: str, tmp_path: Path, path: str, drip: bool
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")
    async with issuer_serve(settings, tmp_path, ISSUER_BODY_READ_TIMEOUT_SECONDS=1) as served:
        started = time.monotonic()
        reader, _writer = await stall(served, path, drip=drip)
        # read() returns at EOF only: the answer came and the server closed the connection.
        raw = await asyncio.wait_for(reader.read(), timeout=10)
        elapsed = time.monotonic() - started
    status, headers, body = parse(raw)
    assert status == 408, raw
    assert headers["content-type"].startswith("application/json")
    assert headers["cache-control"] == "no-store" and headers["connection"] == "close"
    assert json.loads(body) == {
        "error": "invalid_request",
        "error_description": "the request body was not received in time",
    }
    assert 1 <= elapsed < 5, elapsed


async def test_sigterm_with_a_stalled_client_exits_within_the_shutdown_timeout(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "keys")
    env = {"ISSUER_BODY_READ_TIMEOUT_SECONDS": 300, "ISSUER_SHUTDOWN_TIMEOUT_SECONDS": 2}
    async with issuer_serve(settings, tmp_path, workers=2, **env) as served:
        clients = [await stall(served, "/oauth/token") for _ in range(4)]
        await asyncio.sleep(0.5)  # the requests are in the app, waiting for their bodies
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(served.process.wait, 30)
        elapsed = time.monotonic() - started
        # Each stalled client was answered "try again" and its connection closed.
        answers = [await asyncio.wait_for(reader.read(), timeout=5) for reader, _ in clients]
    # uvicorn re-raises the SIGTERM it handled, after its shutdown.
    assert code in (0, -signal.SIGTERM), code
    # It waited for the stalled requests (they are in flight) up to the bound, no longer.
    assert 2 <= elapsed < 8, elapsed
    for raw in answers:
        status, headers, body = parse(raw)
        assert (status, headers["connection"], headers["retry-after"]) == (503, "close", "1")
        assert json.loads(body)["error"] == "temporarily_unavailable"


def test_the_settings_default_to_ten_seconds_and_reach_uvicorn() -> None:
    settings = Settings.from_env({})
    assert (settings.body_read_timeout_seconds, settings.shutdown_timeout_seconds) == (10, 10)
    args = build_parser().parse_args(["serve"])
    tuned = Settings.from_env({"ISSUER_SHUTDOWN_TIMEOUT_SECONDS": "3"})
    assert uvicorn_options(args, settings)["timeout_graceful_shutdown"] == 10
    assert uvicorn_options(args, tuned)["timeout_graceful_shutdown"] == 3


async def test_a_stalled_admin_body_is_408_too(database_url: str, tmp_path: Path) -> None:
    """The limit is the app's, for every route: here a JSON body Litestar itself reads."""
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_BODY_READ_TIMEOUT_SECONDS=1)

    async def stalling_body() -> AsyncIterator[bytes]:
        yield b'{"email": "ada@example.com", '
        await asyncio.sleep(30)  # never comes: the request fails first
        yield b'"password": "correct horse battery"}'

    async with serving_in_loop(settings) as (http, runtime):
        await admin_rows(runtime.database, runtime)
        headers = {"Authorization": f"Bearer {mint_admin(runtime)}"}
        started = time.monotonic()
        response = await http.post(
            "/admin/users",
            content=stalling_body(),
            headers={**headers, "Content-Type": "application/json"},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 408, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.headers["connection"] == "close"
    assert 1 <= elapsed < 5, elapsed
