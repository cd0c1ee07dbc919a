"""Alembic environment: async engines for both databases, one migrator at a time."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from issuer.store.database import create_engine
from issuer.store.models import Base

config = context.config
target_metadata = Base.metadata

# Any fixed 64-bit number: two processes migrating the same Postgres at once take turns.
MIGRATION_LOCK = 0x69737375_65720001


def database_url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("ISSUER_DATABASE_URL")
    if not url:
        url = "sqlite+aiosqlite:///issuer.db"
    return str(url)


def database_pooling() -> str:
    pooling = config.attributes.get("database_pooling") or os.environ.get("ISSUER_DATABASE_POOLING")
    return str(pooling or "session")


def run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(database_url(), pooling=database_pooling())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
