import asyncio

from alembic import command
from sqlalchemy import inspect, text

from issuer.store.database import Database
from issuer.store.migrate import alembic_config, upgrade
from issuer.store.models import Base
from tests.oauth.support import stored_family


async def test_migrate_is_idempotent_and_creates_every_table(database_url: str) -> None:
    # The fixture has migrated already; a second and third run change nothing.
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await database.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_concurrent_migrations_of_a_fresh_database_both_succeed(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.gather(asyncio.to_thread(upgrade, url), asyncio.to_thread(upgrade, url))


ROWS = [
    "INSERT INTO users (id, email, password_hash, roles, disabled, created_at, updated_at) "
    "VALUES ('u1', 'u@example.com', 'x', '[]', false, '2026-11-23', '2026-11-23')",
    "INSERT INTO clients (client_id, public, grant_types, scopes, audiences, disabled, "
    "created_at) VALUES ('app', false, '[]', '[]', '[]', false, '2026-11-23')",
    "INSERT INTO refresh_families (id, user_id, client_id, scope, audience, created_at, "
    "expires_at) VALUES ('f1', 'u1', 'app', 'a', 'api', '2026-11-23', '2026-11-24')",
    "INSERT INTO refresh_tokens (jti, family_id, scope, issued_at, expires_at, used_at, "
    "successor_jti) VALUES ('t1', 'f1', 'a', '2026-11-23', '2026-11-24', '2026-11-23', 't2')",
]
# What 0002 makes possible: INSERTs that leave scope and audience to the database.
WITHOUT_DEFAULTS = [
    "INSERT INTO refresh_families (id, user_id, client_id, created_at, expires_at) "
    "VALUES ('f2', 'u1', 'app', '2026-11-23', '2026-11-24')",
    "INSERT INTO refresh_tokens (jti, family_id, issued_at, expires_at) "
    "VALUES ('t2', 'f2', '2026-11-23', '2026-11-24')",
]


async def test_0002_gives_the_refresh_columns_server_defaults_and_keeps_the_rows(
    database_url: str,
) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0001")
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            for row in ROWS:
                await connection.execute(text(row))
        await asyncio.to_thread(command.upgrade, config, "0002")
        async with database.engine.begin() as connection:
            for row in WITHOUT_DEFAULTS:
                await connection.execute(text(row))
            families = await connection.execute(
                text("SELECT id, scope, audience FROM refresh_families ORDER BY id")
            )
            assert [tuple(r) for r in families] == [("f1", "a", "api"), ("f2", "", "")]
            tokens = await connection.execute(
                text("SELECT jti, scope, successor_jti FROM refresh_tokens ORDER BY jti")
            )
            assert [tuple(r) for r in tokens] == [("t1", "a", "t2"), ("t2", "", None)]
    finally:
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")


async def test_0003_ends_the_sessions_of_jws_refresh_tokens(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            for row in ROWS:
                await connection.execute(text(row))
            await connection.execute(
                text(
                    "INSERT INTO refresh_families (id, user_id, client_id, created_at, "
                    "expires_at, revoked_at, revoked_reason) VALUES ('f0', 'u1', 'app', "
                    "'2026-11-23', '2026-11-24', '2026-11-23', 'logout')"
                )
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.session() as session:
            left = await session.execute(text("SELECT count(*) FROM refresh_tokens"))
            assert left.scalar_one() == 0
            f0, f1 = await stored_family(session, "f0"), await stored_family(session, "f1")
        assert f0 is not None and f0.revoked_reason == "logout"  # the first reason stays
        assert f1 is not None and f1.revoked_reason == "token_format"
        assert f1.revoked_at is not None and f1.revoked_at > f1.created_at
    finally:
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
