"""The login's stores on both databases: browser sessions, consents, authorization codes,
and the refresh families a browser session started."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from issuer.accounts.users import create_user
from issuer.store import authorization_codes, browser_sessions, consents, families, users
from issuer.store.database import Database
from issuer.store.models import BrowserSession as BrowserSessionRow
from tests.oauth.login_support import add_login_client
from tests.oauth.support import family_is_live

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DAY = 86_400


async def a_user(database: Database, email: str = "u@example.com") -> str:
    async with database.session() as session:
        user = await create_user(session, email=email, password="password1", now=NOW, actor="t")
    return user.id


async def start(database: Database, user_id: str, *, now: datetime = NOW, lifetime: int = DAY):
    async with database.session() as session:
        return await browser_sessions.start(session, user_id=user_id, now=now, lifetime=lifetime)


async def find(database: Database, cookie: str, *, now: datetime = NOW):
    return await browser_sessions.find(database, cookie, now=now)


async def test_a_browser_session_is_known_by_the_digest_of_its_cookie(database: Database) -> None:
    user_id = await a_user(database)
    cookie, started = await start(database, user_id)
    assert len(cookie) == 43  # 256 bits, base64url
    assert started.id == hashlib.sha256(cookie.encode()).hexdigest()
    async with database.session() as session:
        stored = list(await session.scalars(select(BrowserSessionRow.id)))
    assert stored == [started.id] and cookie not in stored
    found = await find(database, cookie, now=NOW + timedelta(hours=1))
    assert found == started
    assert (found.user_id, found.auth_time, found.expires_at) == (
        user_id,
        NOW,
        NOW + timedelta(seconds=DAY),
    )


async def test_a_session_is_marked_used_at_most_once_per_interval(database: Database) -> None:
    user_id = await a_user(database)
    cookie, _ = await start(database, user_id)

    async def touched_at(at: datetime) -> datetime | None:
        found = await find(database, cookie, now=at)
        assert found is not None
        await browser_sessions.touch(database, found, now=at)
        seen = await find(database, cookie, now=at)
        return None if seen is None else seen.last_seen_at

    within = NOW + browser_sessions.TOUCH_INTERVAL - timedelta(seconds=1)
    assert await touched_at(within) == NOW  # no write within the interval
    after = NOW + browser_sessions.TOUCH_INTERVAL
    assert await touched_at(after) == after
    assert await touched_at(after + timedelta(seconds=1)) == after
    async with database.session() as session:
        row = await session.get(BrowserSessionRow, browser_sessions.session_id_of(cookie))
    assert row is not None and row.last_seen_at == after


async def test_unknown_expired_ended_or_disabled_sessions_are_not_found(
    database: Database,
) -> None:
    user_id = await a_user(database)
    cookie, started = await start(database, user_id, lifetime=60)
    assert await find(database, "not-a-cookie") is None
    assert await find(database, "") is None
    assert await find(database, cookie, now=NOW + timedelta(seconds=60)) is None
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    assert await find(database, cookie) is None
    async with database.session() as session:
        await users.set_disabled(session, user_id, False)
    assert await find(database, cookie) == started
    async with database.session() as session:
        assert await browser_sessions.end(session, started.id, now=NOW) == 0
    assert await find(database, cookie) is None


async def login_family(
    database: Database, family_id: str, user_id: str, session_id: str | None
) -> None:
    async with database.session() as session:
        await families.add_login(
            session,
            family_id=family_id,
            user_id=user_id,
            client_id="spa",
            scope="openid",
            audience="api",
            now=NOW,
            family_expires_at=NOW + timedelta(days=30),
            jti=f"{family_id}-t1",
            expires_at=NOW + timedelta(days=30),
            session_id=session_id,
        )


async def test_ending_a_session_revokes_the_families_started_in_it_only(
    database: Database,
) -> None:
    user_id = await a_user(database)
    await add_login_client(database, NOW)
    _, here = await start(database, user_id)
    _, elsewhere = await start(database, user_id)
    await login_family(database, "in-here", user_id, here.id)
    await login_family(database, "in-elsewhere", user_id, elsewhere.id)
    await login_family(database, "password-login", user_id, None)
    async with database.session() as session:
        assert await browser_sessions.end(session, here.id, now=NOW) == 1
        assert await browser_sessions.end(session, here.id, now=NOW) == 0  # idempotent
    async with database.session() as session:
        live = {
            family: await family_is_live(session, family, now=NOW)
            for family in ("in-here", "in-elsewhere", "password-login")
        }
        ended = await families.find_token(session, "in-here-t1")
    assert live == {"in-here": False, "in-elsewhere": True, "password-login": True}
    assert ended is not None and ended[1].revoked_reason == "logout"


async def test_ending_a_users_sessions_leaves_other_users_alone(database: Database) -> None:
    ada, bob = await a_user(database), await a_user(database, "bob@example.com")
    first, _ = await start(database, ada)
    second, _ = await start(database, ada)
    bobs, _ = await start(database, bob)
    async with database.session() as session:
        assert await browser_sessions.end_for_user(session, ada, now=NOW) == 2
        assert await browser_sessions.end_for_user(session, ada, now=NOW) == 0
    assert await find(database, first) is None and await find(database, second) is None
    assert await find(database, bobs) is not None


async def test_expired_sessions_are_purged(database: Database) -> None:
    user_id = await a_user(database)
    await start(database, user_id, lifetime=60)
    kept, _ = await start(database, user_id, lifetime=DAY)
    async with database.session() as session:
        assert await browser_sessions.purge_expired(session, now=NOW + timedelta(seconds=60)) == 1
    assert await find(database, kept) is not None


async def test_consents_add_up_per_user_and_client_and_are_revoked(database: Database) -> None:
    ada, bob = await a_user(database), await a_user(database, "bob@example.com")
    await add_login_client(database, NOW, "spa")
    await add_login_client(database, NOW, "crm")
    async with database.session() as session:
        assert await consents.granted(session, ada, "spa") == frozenset()
        await consents.remember(session, ada, "spa", ["openid", "read"], now=NOW)
        every = await consents.remember(session, ada, "spa", ["email", "read"], now=NOW)
        await consents.remember(session, ada, "crm", ["openid"], now=NOW)
        await consents.remember(session, bob, "spa", ["openid"], now=NOW)
    assert every == {"openid", "read", "email"}
    async with database.session() as session:
        assert await consents.granted(session, ada, "spa") == every
        assert await consents.granted(session, ada, "crm") == {"openid"}
        assert await consents.revoke(session, ada, "spa") == 1
        assert await consents.granted(session, ada, "spa") == frozenset()
        assert await consents.granted(session, ada, "crm") == {"openid"}
        assert await consents.revoke(session, ada) == 1
        assert await consents.revoke(session, ada) == 0
        assert await consents.granted(session, bob, "spa") == {"openid"}


async def test_two_first_consents_at_once_both_count(database: Database) -> None:
    ada = await a_user(database)
    await add_login_client(database, NOW)

    async def grant(scope: str) -> None:
        async with database.session() as session:
            await consents.remember(session, ada, "spa", [scope], now=NOW)

    await asyncio.gather(grant("openid"), grant("email"))
    async with database.session() as session:
        assert await consents.granted(session, ada, "spa") == {"openid", "email"}


CHALLENGE = "c" * 43
CALLBACK = "https://app.example.com/callback"


async def a_code(
    database: Database, session_id: str, digest: str = "d1", *, now: datetime = NOW
) -> browser_sessions.BrowserSession | None:
    return await authorization_codes.store(
        database,
        digest=digest,
        client_id="spa",
        session_id=session_id,
        redirect_uri=CALLBACK,
        code_challenge=CHALLENGE,
        nonce="n",
        scope="openid",
        resource="api",
        now=now,
        expires_at=now + timedelta(seconds=60),
    )


async def a_user_with_a_code(database: Database) -> tuple[str, browser_sessions.BrowserSession]:
    user_id = await a_user(database)
    await add_login_client(database, NOW)
    _, browser = await start(database, user_id)
    assert await a_code(database, browser.id) is not None
    return user_id, browser


async def consume(
    database: Database, digest: str = "d1", **kw: object
) -> authorization_codes.Exchange | None:
    values: dict[str, object] = {
        "client_id": "spa",
        "redirect_uri": CALLBACK,
        "code_challenge": CHALLENGE,
        "target": None,
        "fallback_audience": "default",
        "now": NOW,
        "access_token_jti": "j1",
        "access_token_expires_at": NOW + timedelta(minutes=15),
        "login": None,
    }
    values.update(kw)
    return await authorization_codes.exchange(database, digest, **values)  # type: ignore[arg-type]


async def test_a_code_is_stored_for_a_live_session_only(database: Database) -> None:
    user_id = await a_user(database)
    await add_login_client(database, NOW)
    _, browser = await start(database, user_id, lifetime=60)
    stored = await a_code(database, browser.id, now=NOW + timedelta(seconds=30))
    assert stored == browser  # what `touch` needs: when the session was last seen
    code = await authorization_codes.find(database, "d1")
    assert code is not None
    assert (code.user_id, code.session_id, code.auth_time) == (user_id, browser.id, NOW)
    assert await a_code(database, "no-such-session", "d2") is None
    assert await a_code(database, browser.id, "d3", now=NOW + timedelta(seconds=60)) is None
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    assert await a_code(database, browser.id, "d4") is None
    async with database.session() as session:
        await users.set_disabled(session, user_id, False)
        await browser_sessions.end(session, browser.id, now=NOW)
    assert await a_code(database, browser.id, "d5") is None
    for digest in ("d2", "d3", "d4", "d5"):
        assert await authorization_codes.find(database, digest) is None


async def test_a_code_is_consumed_once_recording_what_it_issued(database: Database) -> None:
    user_id, _ = await a_user_with_a_code(database)
    await add_login_client(database, NOW, "crm")
    assert await consume(database, client_id="crm") is None  # bound to its client
    assert await consume(database, now=NOW + timedelta(seconds=60)) is None  # expired
    exchanged = await consume(database)
    assert exchanged is not None
    assert (exchanged.email, exchanged.roles) == ("u@example.com", ())
    assert (exchanged.code.user_id, exchanged.code.used_at) == (user_id, NOW)
    assert await consume(database, access_token_jti="j2") is None
    stored = await authorization_codes.find(database, "d1")
    assert stored == exchanged.code
    assert (stored.family_id, stored.access_token_jti) == (None, "j1")
    assert authorization_codes.code_digest("abc") == hashlib.sha256(b"abc").hexdigest()


async def test_a_code_is_consumed_only_with_everything_it_is_bound_to(
    database: Database,
) -> None:
    user_id, _ = await a_user_with_a_code(database)
    assert await consume(database, redirect_uri=CALLBACK + "/") is None
    assert await consume(database, code_challenge="d" * 43) is None
    assert await consume(database, target="other") is None  # within its resource
    async with database.session() as session:
        await users.set_disabled(session, user_id, True)
    assert await consume(database) is None
    async with database.session() as session:
        await users.set_disabled(session, user_id, False)
    unused = await authorization_codes.find(database, "d1")
    assert unused is not None and unused.used_at is None
    assert await consume(database, target="api") is not None
    # A code of a session logged out since gets nothing.
    _, other = await start(database, user_id)
    assert await a_code(database, other.id, "d2") is not None
    async with database.session() as session:
        await browser_sessions.end(session, other.id, now=NOW)
    assert await consume(database, "d2") is None


@pytest.mark.parametrize(("target", "audience"), [(None, "api"), ("api", "api")])
async def test_an_exchange_starts_the_refresh_family_in_its_browser_session(
    database: Database, target: str | None, audience: str
) -> None:
    _, browser = await a_user_with_a_code(database)
    login = authorization_codes.Login(
        family_id="f1",
        family_expires_at=NOW + timedelta(days=30),
        jti="t1",
        expires_at=NOW + timedelta(days=1),
    )
    lost = await consume(database, code_challenge="d" * 43, login=login)
    assert lost is None
    async with database.session() as session:
        assert await families.find_token(session, "t1") is None  # nothing when nothing matched
    exchanged = await consume(database, target=target, login=login)
    assert exchanged is not None and exchanged.code.family_id == "f1"
    async with database.session() as session:
        found = await families.find_token(session, "t1")
        assert found is not None
        token, family = found
        assert (family.session_id, family.audience, family.scope) == (
            browser.id,
            audience,
            "openid",
        )
        assert (token.scope, token.expires_at) == ("openid", NOW + timedelta(days=1))
        assert family.expires_at == NOW + timedelta(days=30)
        assert await browser_sessions.end(session, browser.id, now=NOW) == 1


async def test_concurrent_consumes_of_one_code_have_exactly_one_winner(
    database: Database,
) -> None:
    await a_user_with_a_code(database)
    results = await asyncio.gather(*(consume(database, access_token_jti=f"j{n}") for n in range(8)))
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    stored = await authorization_codes.find(database, "d1")
    assert stored is not None
    assert stored.access_token_jti == f"j{results.index(winners[0])}"


async def test_codes_are_purged_once_nothing_can_replay_them(database: Database) -> None:
    user_id = await a_user(database)
    await add_login_client(database, NOW)
    _, browser = await start(database, user_id)
    await a_code(database, browser.id, "unused")
    await a_code(database, browser.id, "used")
    assert await consume(database, "used")
    after_code = NOW + timedelta(seconds=60)
    async with database.session() as session:
        # The used code answers a replay until its access token has expired.
        assert await authorization_codes.purge_expired(session, now=after_code) == 1
    assert await authorization_codes.find(database, "unused") is None
    assert await authorization_codes.find(database, "used") is not None
    later = NOW + timedelta(minutes=15)
    async with database.session() as session:
        assert await authorization_codes.purge_expired(session, now=later) == 1
    assert await authorization_codes.find(database, "used") is None
