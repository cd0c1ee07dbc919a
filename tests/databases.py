"""Real databases for the suite: a Postgres database per run, a migrated SQLite template.

Postgres comes from ISSUER_TEST_DATABASE_URL (a server URL; a database of our own is
created on it and dropped afterwards) or the local server at 127.0.0.1:5432. It is never
skipped: if it cannot be reached the run stops with a message that says so.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from issuer.store.migrate import upgrade
from issuer.store.models import Base

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TABLES = ", ".join(table.name for table in reversed(Base.metadata.sorted_tables))


def server_url() -> str:
    return os.environ.get("ISSUER_TEST_DATABASE_URL") or DEFAULT_SERVER


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


class PostgresUnavailable(RuntimeError):
    pass


class PostgresDatabases:
    """Creates databases named issuer_test_<run>_<n> on the server, and drops them all."""

    def __init__(self) -> None:
        self.server = server_url()
        self.run = secrets.token_hex(4)
        self.created: list[str] = []

    async def _admin(self) -> asyncpg.Connection:
        try:
            return await asyncpg.connect(_dsn(self.server), timeout=10)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            shown = make_url(self.server).render_as_string(hide_password=True)
            raise PostgresUnavailable(
                f"Postgres is not reachable at {shown} ({exc}). The Postgres tests are never "
                "skipped: start the server (pg_ctlcluster --skip-systemctl-redirect "
                "$(ls /etc/postgresql) main start) or set ISSUER_TEST_DATABASE_URL."
            ) from None

    def create(self, *, migrated: bool = True) -> str:
        """A new database on the server, migrated to head unless told otherwise."""
        name = f"issuer_test_{self.run}_{len(self.created)}"

        async def create() -> None:
            admin = await self._admin()
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()

        asyncio.run(create())
        self.created.append(name)
        url = make_url(self.server).set(drivername="postgresql+asyncpg", database=name)
        database_url = url.render_as_string(hide_password=False)
        if migrated:
            upgrade(database_url)
        return database_url

    def drop_all(self) -> None:
        async def drop() -> None:
            admin = await self._admin()
            try:
                for name in self.created:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

        if self.created:
            asyncio.run(drop())
            self.created.clear()

    @staticmethod
    def truncate(database_url: str) -> None:
        async def truncate() -> None:
            connection = await asyncpg.connect(_dsn(database_url), timeout=10)
            try:
                await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            finally:
                await connection.close()

        asyncio.run(truncate())


class SQLiteTemplate:
    """Migrates one SQLite file per run; each test gets a fresh copy of it."""

    def __init__(self, directory: Path) -> None:
        self.template = directory / "template.db"
        upgrade(f"sqlite+aiosqlite:///{self.template}")

    def fresh(self, directory: Path) -> str:
        target = directory / "issuer.db"
        shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"
