"""The clean-up job: only expired rows go, and one process at a time runs it."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from issuer import cleanup
from issuer.runtime import Runtime
from issuer.settings import Settings
from issuer.store import authorization_codes, browser_sessions, denylist, families
from issuer.store.database import Database
from issuer.store.models import BrowserSession as BrowserSessionRow
from issuer.store.models import Client, JobLease, RefreshFamily, RefreshToken, User
from tests.conftest import make_settings
from tests.oauth.support import add_refresh_token, store_family

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def seed(database: Database) -> None:
    async with database.session() as session:
        session.add(
            User(
                id="u1",
                email="ada@example.com",
                password_hash="x",
                roles=[],
                disabled=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.add(Client(client_id="app", created_at=NOW))
        await session.flush()
        family = dict(user_id="u1", client_id="app", scope="", audience="api", now=NOW - 2 * HOUR)
        await store_family(session, family_id="expired", expires_at=NOW - HOUR, **family)
        await store_family(session, family_id="live", expires_at=NOW + HOUR, **family)
        await store_family(session, family_id="revoked-live", expires_at=NOW + HOUR, **family)
        await families.revoke(session, "revoked-live", reason="logout", now=NOW - HOUR)
        token = dict(scope="", now=NOW - 2 * HOUR)
        await add_refresh_token(
            session, jti="t-dead-family", family_id="expired", expires_at=NOW + HOUR, **token
        )
        await add_refresh_token(
            session, jti="t-expired", family_id="live", expires_at=NOW - HOUR, **token
        )
        await add_refresh_token(session, jti="t-at-now", family_id="live", expires_at=NOW, **token)
        await add_refresh_token(
            session, jti="t-live", family_id="live", expires_at=NOW + HOUR, **token
        )
        await add_refresh_token(
            session, jti="t-revoked", family_id="revoked-live", expires_at=NOW + HOUR, **token
        )
        await denylist.add(session, "jti-expired", until=NOW - HOUR, now=NOW - 2 * HOUR)
        await denylist.add(session, "jti-live", until=NOW + HOUR, now=NOW - 2 * HOUR)


async def test_purge_removes_only_expired_rows(database: Database) -> None:
    await seed(database)
    purged = await cleanup.purge_expired(database, now=NOW)
    assert purged.denylist_rows == 1
    assert purged.refresh_rows >= 3  # two expired tokens and the expired family (+ its token)

    async with database.session() as session:
        family_ids = set(await session.scalars(select(RefreshFamily.id)))
        token_ids = set(await session.scalars(select(RefreshToken.jti)))
        assert family_ids == {"live", "revoked-live"}
        assert token_ids == {"t-live", "t-revoked"}
        assert not await denylist.contains(session, "jti-expired")
        assert await denylist.contains(session, "jti-live")

    again = await cleanup.purge_expired(database, now=NOW)
    assert again == cleanup.Purged(refresh_rows=0, denylist_rows=0)


@pytest.fixture
def fast_cleanup_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "keys", ISSUER_CLEANUP_INTERVAL_SECONDS=1)


async def test_two_runtimes_on_one_database_clean_up_one_at_a_time(
    fast_cleanup_settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both processes start the job; only the lease holder runs passes, never two at once."""
    await seed(database)
    passes: list[tuple[int, float, float]] = []
    real = cleanup.purge_expired

    async def recording(db: Database, *, now: datetime) -> cleanup.Purged:
        started = time.monotonic()
        result = await real(db, now=NOW)
        await asyncio.sleep(0.05)  # widen the window in which an overlap would show
        passes.append((id(db), started, time.monotonic()))
        return result

    monkeypatch.setattr(cleanup, "purge_expired", recording)
    runtimes = [Runtime(fast_cleanup_settings), Runtime(fast_cleanup_settings)]
    try:
        await asyncio.gather(*(runtime.start() for runtime in runtimes))
        await asyncio.sleep(2.5)
    finally:
        for runtime in runtimes:
            await runtime.close()

    runners = {db_id for db_id, _, _ in passes}
    assert len(passes) >= 2
    assert len(runners) == 1, "two processes ran the clean-up job"
    assert runners <= {id(runtime.database) for runtime in runtimes}
    ordered = sorted(passes, key=lambda p: p[1])
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(ordered))

    async with database.session() as session:
        assert set(await session.scalars(select(RefreshFamily.id))) == {"live", "revoked-live"}
        # Shutdown released the lease, so a restarted process need not wait for it to expire.
        assert await session.get(JobLease, cleanup.LEASE_NAME) is None


async def test_purge_removes_expired_codes_and_browser_sessions(database: Database) -> None:
    await seed(database)
    async with database.session() as session:
        _, old = await browser_sessions.start(
            session, user_id="u1", now=NOW - 2 * HOUR, lifetime=3600
        )
        _, live = await browser_sessions.start(session, user_id="u1", now=NOW, lifetime=3600)
        code = dict(
            client_id="app",
            session_id=live.id,
            redirect_uri="https://app.example.com/cb",
            code_challenge="c" * 43,
            nonce=None,
            scope="",
            resource=None,
            now=NOW,
        )
    await authorization_codes.store(database, digest="expired", expires_at=NOW, **code)
    await authorization_codes.store(database, digest="live", expires_at=NOW + HOUR, **code)
    purged = await cleanup.purge_expired(database, now=NOW)
    assert purged.login_rows == 2
    async with database.session() as session:
        assert await session.get(BrowserSessionRow, old.id) is None
        assert await session.get(BrowserSessionRow, live.id) is not None
    assert await authorization_codes.find(database, "expired") is None
    assert await authorization_codes.find(database, "live") is not None
