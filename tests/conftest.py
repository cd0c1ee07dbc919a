"""Fixtures: every database test runs on the embedded SQLite and on a real Postgres."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from issuer.app import create_app
from issuer.settings import Settings
from issuer.store.database import Database
from tests.databases import PostgresDatabases, PostgresUnavailable, SQLiteTemplate

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresDatabases) -> str:
    """One migrated Postgres database for the run; tests empty it before they start."""
    try:
        return postgres.create()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SQLiteTemplate:
    return SQLiteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SQLiteTemplate
) -> str:
    """A migrated, empty database: a fresh SQLite file, or the run's Postgres truncated."""
    if request.param == "sqlite":
        return sqlite_template.fresh(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    PostgresDatabases.truncate(url)
    return url


def make_settings(database_url: str, keys_dir: Path, **overrides: object) -> Settings:
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {
        "ISSUER_URL": "http://127.0.0.1:8000",
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEYS_DIR": str(keys_dir),
        "ISSUER_KEK": kek,
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return Settings.from_env(env)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "keys")


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8000") as test_client:
        yield test_client
