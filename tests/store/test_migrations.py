import asyncio

from sqlalchemy import inspect

from issuer.store.database import Database
from issuer.store.migrate import upgrade
from issuer.store.models import Base


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
