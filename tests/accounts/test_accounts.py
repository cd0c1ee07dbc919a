import hashlib
import uuid
from datetime import timedelta

import pytest

from issuer.accounts.clients import create_client
from issuer.accounts.secrets import secret_digest, secret_matches
from issuer.accounts.users import (
    AccountError,
    AccountExists,
    UnknownAccount,
    create_user,
    disable_user,
    enable_user,
    revoke_sessions,
)
from issuer.clock import utcnow
from issuer.metrics import REVOCATIONS
from issuer.store import audit, clients, users
from issuer.store.database import Database
from issuer.store.models import Client
from tests.oauth.support import store_family

ISSUER = "http://127.0.0.1:8000"


async def test_user_email_is_case_insensitive_and_unique(database: Database) -> None:
    async with database.session() as session:
        user = await create_user(
            session,
            email="Ada@Example.COM",
            password="password1",
            roles=["admin", "admin"],
            now=utcnow(),
            actor="test",
        )
    assert user.email == "ada@example.com"
    assert user.roles == ["admin"]
    with pytest.raises(AccountExists, match="already exists"):
        async with database.session() as session:
            await create_user(
                session, email="ADA@example.com", password="password1", now=utcnow(), actor="test"
            )
    async with database.session() as session:
        found = await users.by_email(session, "ada@EXAMPLE.com")
        events = await audit.recent(session, action="user.create")
    assert found is not None and found.id == user.id
    assert [e.subject for e in events] == [user.id]


@pytest.mark.parametrize(
    ("email", "password", "roles", "message"),
    [
        ("not-an-email", "password1", [], "not an e-mail"),
        ("a@b.co", "", [], "empty"),
        ("a@b.co", "password1", ["bad role!"], "not a role"),
    ],
)
async def test_bad_user_input_is_refused(
    database: Database, email: str, password: str, roles: list[str], message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        async with database.session() as session:
            await create_user(
                session, email=email, password=password, roles=roles, now=utcnow(), actor="t"
            )


async def test_confidential_client_secret_is_shown_once_and_stored_as_digest(
    database: Database,
) -> None:
    async with database.session() as session:
        new = await create_client(
            session,
            client_id="svc",
            grant_types=["client_credentials"],
            scopes=["api"],
            audiences=["urn:api", "urn:other"],
            default_audience=ISSUER,
            now=utcnow(),
            actor="t",
        )
    assert new.secret is not None and len(new.secret) >= 43  # 32 bytes, base64url
    async with database.session() as session:
        stored = await clients.by_id(session, "svc")
    assert stored is not None
    assert stored.secret_digest == hashlib.sha256(new.secret.encode()).digest()
    assert new.secret.encode() not in (stored.secret_digest or b"")
    assert stored.audiences == ["urn:api", "urn:other"]
    assert secret_matches(new.secret, stored.secret_digest)
    assert not secret_matches(new.secret + "x", stored.secret_digest)


async def test_client_defaults(database: Database) -> None:
    async with database.session() as session:
        confidential = await create_client(
            session,
            client_id="c",
            grant_types=[],
            scopes=[],
            audiences=[],
            default_audience=ISSUER,
            now=utcnow(),
            actor="t",
        )
        public = await create_client(
            session,
            client_id="p",
            grant_types=[],
            scopes=[],
            audiences=[],
            public=True,
            default_audience=ISSUER,
            now=utcnow(),
            actor="t",
        )
    assert confidential.client.grant_types == ["client_credentials"]
    assert confidential.client.audiences == [ISSUER]
    assert public.secret is None and public.client.secret_digest is None
    # A public client logs users in (issue 12): the code flow and its refresh tokens.
    assert public.client.grant_types == ["authorization_code", "refresh_token"]
    assert public.client.id_token_alg == "RS256" and not public.client.consent_required


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client_id": "bad id"}, "not a client id"),
        ({"grant_types": ["implicit"]}, "unknown grant type"),
        ({"public": True, "grant_types": ["client_credentials"]}, "public client cannot"),
        ({"public": True, "grant_types": ["password"]}, "public client cannot"),
        ({"scopes": ['bad"scope']}, "not a scope"),
        ({"alg": "HS256"}, "RS256 or EdDSA"),
        ({"audiences": ["has space"]}, "not an audience"),
    ],
)
async def test_bad_client_input_is_refused(
    database: Database, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "client_id": "c",
        "grant_types": [],
        "scopes": [],
        "audiences": [],
        "default_audience": ISSUER,
        "now": utcnow(),
        "actor": "t",
    }
    arguments.update(kwargs)
    with pytest.raises(AccountError, match=message):
        async with database.session() as session:
            await create_client(session, **arguments)  # type: ignore[arg-type]


def test_secret_comparison_handles_missing_digest() -> None:
    assert not secret_matches("anything", None)
    assert secret_matches("s", secret_digest("s"))


def families_revoked() -> float:
    return REVOCATIONS.labels(kind="family")._value.get()  # type: ignore[attr-defined, no-any-return]


async def user_with_sessions(database: Database, count: int) -> str:
    now = utcnow()
    async with database.session() as session:
        user = await create_user(
            session, email="ada@example.com", password="password1", now=now, actor="t"
        )
        await clients.add(session, Client(client_id="app", created_at=now))
        for _ in range(count):
            await store_family(
                session,
                family_id=str(uuid.uuid4()),
                user_id=user.id,
                client_id="app",
                scope="",
                audience=ISSUER,
                now=now,
                expires_at=now + timedelta(days=1),
            )
    return user.id


async def test_disabling_a_user_ends_their_sessions_audits_and_counts(
    database: Database,
) -> None:
    user_id = await user_with_sessions(database, 2)
    before = families_revoked()
    ended = await disable_user(database, user_id, now=utcnow(), actor="cli:ops")
    assert ended.user.disabled and ended.sessions_revoked == 2
    assert families_revoked() == before + 2
    async with database.session() as session:
        assert (await users.by_id(session, user_id)).disabled  # type: ignore[union-attr]
        [event] = await audit.recent(session, action="user.disable")
    assert (event.actor, event.subject, event.detail) == (
        "cli:ops",
        user_id,
        {"families_revoked": 2, "browser_sessions_ended": 0},
    )

    enabled = await enable_user(database, user_id, now=utcnow(), actor="cli:ops")
    assert not enabled.disabled
    # Enabling revives no session: nothing is left to revoke.
    assert (await revoke_sessions(database, user_id, now=utcnow(), actor="t")).sessions_revoked == 0
    assert families_revoked() == before + 2


async def test_revoking_sessions_keeps_the_user_enabled(database: Database) -> None:
    user_id = await user_with_sessions(database, 3)
    ended = await revoke_sessions(database, user_id, now=utcnow(), actor="t")
    assert ended.sessions_revoked == 3 and not ended.user.disabled
    async with database.session() as session:
        [event] = await audit.recent(session, action="user.revoke_sessions")
    assert event.detail == {"families_revoked": 3, "browser_sessions_ended": 0}


@pytest.mark.parametrize("step", [disable_user, enable_user, revoke_sessions])
async def test_steps_on_an_unknown_user_change_nothing(database: Database, step: object) -> None:
    with pytest.raises(UnknownAccount, match="no such user"):
        await step(database, "nobody", now=utcnow(), actor="t")  # type: ignore[operator]
    async with database.session() as session:
        assert await audit.recent(session) == []


async def test_a_taken_client_id_is_account_exists(database: Database) -> None:
    async def register() -> None:
        async with database.session() as session:
            await create_client(
                session,
                client_id="svc",
                grant_types=[],
                scopes=[],
                audiences=[],
                default_audience=ISSUER,
                now=utcnow(),
                actor="t",
            )

    await register()
    with pytest.raises(AccountExists, match="already exists"):
        await register()
