"""The ring a process serves changes with time alone: a retired key leaves the JWKS when
its `unpublish_after` passes, with no change in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from issuer.app import create_app
from issuer.keyring.rotation import rotate
from tests.conftest import make_settings
from tests.keyring.clock import ManualClock


async def test_a_retired_key_leaves_the_served_jwks_when_its_tokens_have_expired(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path / "k", ISSUER_ACCESS_TOKEN_TTL=60, ISSUER_REFRESH_TOKEN_TTL=60
    )
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        runtime = app.state.runtime
        result = await rotate(
            runtime.database,
            settings=settings,
            kek=runtime.kek,
            alg="EdDSA",
            force=True,
            now=clock(),
            actor="t",
        )
        await runtime.keys.refresh()
        served = await c.get("/.well-known/jwks.json")
        assert result.retired in {k["kid"] for k in served.json()["keys"]}
        clock.advance(60 + 5 * 60)  # the longest token lifetime plus the margin
        await runtime.keys.refresh()  # what the poll does: rebuild the ring at `now`
        after = await c.get("/.well-known/jwks.json")
        assert result.retired not in {k["kid"] for k in after.json()["keys"]}
        assert after.headers["etag"] != served.headers["etag"]


class Records(logging.Handler):
    """The issuer.keyring records at INFO, with the extra fields they were logged with."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def keyring_log() -> Iterator[Records]:
    logger = logging.getLogger("issuer.keyring")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def counted(result: str) -> float:
    from issuer.metrics import KEY_RING_RELOADS

    return float(KEY_RING_RELOADS.labels(result=result)._value.get())


async def test_a_reload_names_what_changed_and_is_counted(
    database_url: str, tmp_path: Path, keyring_log: Records
) -> None:
    settings = make_settings(
        database_url, tmp_path / "k", ISSUER_ACCESS_TOKEN_TTL=60, ISSUER_REFRESH_TOKEN_TTL=60
    )
    clock = ManualClock()
    app = create_app(settings, clock=clock)
    async with app.lifespan():
        runtime = app.state.runtime
        before = {key.kid: key for key in runtime.keys.ring.keys.values()}
        unchanged = counted("unchanged")
        await runtime.keys.refresh()
        assert counted("unchanged") == unchanged + 1
        result = await rotate(
            runtime.database,
            settings=settings,
            kek=runtime.kek,
            alg="EdDSA",
            force=True,
            now=clock(),
            actor="t",
        )
        changed = counted("changed")
        await runtime.keys.refresh()
        clock.advance(60 + 5 * 60)
        await runtime.keys.refresh()
        assert counted("changed") == changed + 2
    rotation, unpublication = [
        r for r in keyring_log.records if r.getMessage().startswith("key ring changed")
    ]
    assert sorted(rotation.changes) == sorted(  # type: ignore[attr-defined]
        [
            f"added EdDSA next {result.next}",
            f"EdDSA {result.activated} next -> active",
            f"EdDSA {result.retired} active -> retired",
        ]
    )
    assert unpublication.changes == [f"unpublished EdDSA {result.retired}"]  # type: ignore[attr-defined]
    # The keys that did not change are not named.
    untouched = [kid for kid, key in before.items() if key.alg == "RS256"]
    assert not any(kid in rotation.getMessage() for kid in untouched)


async def test_a_reload_without_the_database_is_one_warning_and_counted(
    database_url: str, tmp_path: Path, keyring_log: Records
) -> None:
    from issuer.keyring.holder import KeyRingHolder
    from issuer.store.database import Database

    away = (
        f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'issuer.db'}"
        if database_url.startswith("sqlite")
        else "postgresql+asyncpg://postgres@127.0.0.1:1/issuer"
    )
    settings = make_settings(away, tmp_path / "k", ISSUER_RING_REFRESH_SECONDS=0.05)
    database = Database(settings.database_url)
    holder = KeyRingHolder(database, settings, bytes(32), ManualClock())
    failed = counted("failed")
    polling = asyncio.create_task(holder.poll_forever())
    try:
        for _ in range(200):
            await asyncio.sleep(0.05)
            if counted("failed") > failed:
                break
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await database.dispose()
    assert counted("failed") > failed
    [warning, *_] = [r for r in keyring_log.records if r.name == "issuer.keyring"]
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    message = warning.getMessage()
    assert message.startswith("key ring reload failed, database unavailable (")
    assert "\n" not in message and "[SQL" not in message and "Background on" not in message


async def test_the_poll_stops_when_cancelled_as_a_change_arrives(
    database_url: str, tmp_path: Path
) -> None:
    """A change notified in the same turn as the process's close: the cancel wins (3.11's
    wait_for returned the change instead, and the poll outlived the close)."""
    from issuer.keyring.holder import KeyRingHolder
    from issuer.store.database import Database

    settings = make_settings(database_url, tmp_path / "k", ISSUER_RING_REFRESH_SECONDS=3600)
    database = Database(settings.database_url)
    holder = KeyRingHolder(database, settings, bytes(32), ManualClock())
    polling = asyncio.create_task(holder.poll_forever())
    try:
        await asyncio.sleep(0.05)  # waiting for a change
        holder.changed()
        polling.cancel()
        done, _ = await asyncio.wait([polling], timeout=5)
        assert done and polling.cancelled()
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await database.dispose()
