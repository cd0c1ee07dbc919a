"""Request ids, the access log and the failed-login audit, as the operator reads them: one
JSON object per line (issuer.logs) from the app serving real requests, on both databases."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.logs import JsonFormatter
from issuer.runtime import Runtime
from issuer.store import audit
from issuer.store.database import Database
from tests.conftest import make_settings
from tests.oauth.support import PASSWORD, add_client, add_user, login, post_form, serving

Client = AsyncTestClient[Litestar]


class JsonLog:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def records(self, logger: str | None = None) -> list[dict[str, Any]]:
        lines = self.stream.getvalue().splitlines()
        parsed = [json.loads(line) for line in lines]
        return [r for r in parsed if logger is None or r["logger"] == logger]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The issuer's loggers at INFO, written as the server writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("issuer")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield JsonLog(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_sane_request_id_is_echoed_and_logged(
    client: Client, runtime: Runtime, database: Database, json_log: JsonLog
) -> None:
    secret = await add_client(database, runtime)
    response = await post_form(
        client,
        "/oauth/token",
        {"grant_type": "password", "username": "nobody@example.com", "password": PASSWORD},
        auth=("web", secret),
        headers={"X-Request-Id": "lb-4f2a.9"},
    )
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "lb-4f2a.9"
    [failed] = json_log.records("issuer.audit")
    assert failed["request_id"] == "lb-4f2a.9"


@pytest.mark.parametrize(
    "presented", [None, b"", b"a b", b"x" * 129, "id\u00e9".encode(), b'quote"d', b"a\\nb"]
)
async def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(
    client: Client, presented: bytes | None
) -> None:
    headers = {} if presented is None else {"X-Request-Id": presented}
    ids = set()
    for path in ("/healthz", "/.well-known/jwks.json", "/no/such/path"):
        response = await client.get(path, headers=headers)
        generated = response.headers["x-request-id"]
        assert presented is None or generated.encode() != presented
        assert len(generated) == 32 and int(generated, 16) >= 0
        ids.add(generated)
    assert len(ids) == 3


async def test_the_access_log_is_off_by_default(client: Client, json_log: JsonLog) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert json_log.records("issuer.access") == []


async def test_the_access_log_has_one_line_per_request(
    database_url: str, tmp_path: Path, json_log: JsonLog
) -> None:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_ACCESS_LOG="on")
    async with serving(settings) as (client, _):
        ok = await client.get("/healthz?access_token=secret-in-query")
        keys = await client.get("/.well-known/jwks.json", headers={"X-Request-Id": "r-1"})
        missing = await client.post("/no/such/path")
    lines = json_log.records("issuer.access")
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("GET", "/healthz", 200),
        ("GET", "/.well-known/jwks.json", 200),
        ("POST", "/no/such/path", 404),
    ]
    assert [r["request_id"] for r in lines] == [
        ok.headers["x-request-id"],
        "r-1",
        missing.headers["x-request-id"],
    ]
    assert lines[1]["bytes"] == len(keys.content)
    assert all(r["duration_ms"] >= 0 and r["peer"] for r in lines)
    assert "secret-in-query" not in json.dumps(lines)


async def test_a_failed_login_is_an_audit_event_without_the_password(
    client: Client, runtime: Runtime, database: Database, json_log: JsonLog
) -> None:
    user_id = await add_user(database, runtime)
    secret = await add_client(database, runtime)
    wrong = "Tr0ub4dor&3-not-it"
    assert (await login(client, secret, password=wrong)).status_code == 400
    assert (await login(client, secret, username="ghost@example.com")).status_code == 400
    assert (await login(client, secret)).status_code == 200  # a success is no such event

    async with database.session() as session:
        stored = await audit.recent(session, action="user.login_failed")
    assert [(e.subject, e.detail["username"]) for e in reversed(stored)] == [
        (user_id, "ada@example.com"),
        ("", "ghost@example.com"),
    ]
    assert {e.actor for e in stored} == {"client:web"}
    assert all(e.detail["reason"] == "invalid_credentials" for e in stored)
    logged = json_log.records("issuer.audit")
    assert [(r["event"], r["username"], r["user_id"]) for r in logged] == [
        ("user.login_failed", "ada@example.com", user_id),
        ("user.login_failed", "ghost@example.com", None),
    ]
    everything = json_log.stream.getvalue() + json.dumps([e.detail for e in stored])
    assert wrong not in everything and PASSWORD not in everything


async def test_a_throttled_login_is_logged_but_not_stored(
    database_url: str, database: Database, tmp_path: Path, json_log: JsonLog
) -> None:
    settings = make_settings(database_url, tmp_path / "keys", ISSUER_LOGIN_MAX_FAILURES=1)
    async with serving(settings) as (client, runtime):
        await add_user(database, runtime)
        secret = await add_client(database, runtime)
        statuses = [
            (await login(client, secret, password="wrong-password-1")).status_code for _ in range(3)
        ]
        async with database.session() as session:
            stored = await audit.recent(session, action="user.login_failed")
    assert statuses[0] == 400 and statuses[-1] != 200
    reasons = [r["reason"] for r in json_log.records("issuer.audit")]
    assert "throttled" in reasons
    assert len(stored) == reasons.count("invalid_credentials")
