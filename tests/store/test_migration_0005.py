"""0005 adds the previous-secret columns of a client and keeps every row, both ways."""

import asyncio

from alembic import command
from sqlalchemy import text

from issuer.store.database import Database
from issuer.store.migrate import alembic_config
from tests.store.test_migrations import ROWS

COUNTS = {
    "refresh_families": text("SELECT count(*) FROM refresh_families"),
    "refresh_tokens": text("SELECT count(*) FROM refresh_tokens"),
}


async def count(database: Database, table: str) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(COUNTS[table])).scalar_one())


async def test_0005_adds_the_previous_secret_and_keeps_the_rows(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0004")
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            for row in ROWS:
                await connection.execute(text(row))
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.engine.connect() as connection:
            previous = await connection.execute(
                text("SELECT previous_secret_digest, previous_secret_expires_at FROM clients")
            )
            assert previous.all() == [(None, None)]
        # Neither way rebuilds `clients`, which would cascade-delete the families.
        await asyncio.to_thread(command.downgrade, config, "0004")
        assert [await count(database, t) for t in ("refresh_families", "refresh_tokens")] == [1, 1]
        await asyncio.to_thread(command.upgrade, config, "head")
        assert await count(database, "refresh_families") == 1
    finally:
        await database.dispose()
