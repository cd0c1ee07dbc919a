"""0007 (login) gives existing clients the login defaults and keeps every row, both ways."""

import asyncio

from alembic import command
from sqlalchemy import text

from issuer.store.database import Database
from issuer.store.migrate import alembic_config
from tests.store.test_migration_0005 import count
from tests.store.test_migrations import ROWS


async def test_0007_adds_the_login_columns_and_tables_and_keeps_the_rows(
    database_url: str,
) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0006")
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            for row in ROWS:
                await connection.execute(text(row))
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.engine.connect() as connection:
            clients = await connection.execute(
                text(
                    "SELECT name, redirect_uris, post_logout_redirect_uris, consent_required, "
                    "id_token_alg FROM clients"
                )
            )
            name, redirects, post_logout, consent, alg = clients.one()
            families = await connection.execute(text("SELECT session_id FROM refresh_families"))
            assert families.all() == [(None,)]
            for table in ("browser_sessions", "authorization_codes", "consents"):
                rows = await connection.execute(text("SELECT count(*) FROM " + table))  # noqa: S608
                assert rows.scalar_one() == 0
        assert name is None and not consent and alg == "RS256"
        # JSON columns: asyncpg hands back text, SQLite too.
        assert [str(redirects), str(post_logout)] == ["[]", "[]"]
        # Neither way rebuilds `clients`, which would cascade-delete the families.
        await asyncio.to_thread(command.downgrade, config, "0006")
        assert [await count(database, t) for t in ("refresh_families", "refresh_tokens")] == [1, 1]
        await asyncio.to_thread(command.upgrade, config, "head")
        assert await count(database, "refresh_families") == 1
    finally:
        await database.dispose()
