"""Fixtures: every database test runs on the embedded SQLite and on a real Postgres."""

from __future__ import annotations

import base64
import logging
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
from tests.pgbouncer import PgBouncer, PgBouncerUnavailable, pooling_of

BACKENDS = ["sqlite", "postgres"]
# The test modules marked `through_pgbouncer` run on the run's Postgres through PgBouncer in
# transaction mode as well (ISSUER_DATABASE_POOLING=transaction).
PGBOUNCER = "pgbouncer"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "through_pgbouncer: database_url also names Postgres through PgBouncer"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`database_url`'s parameters: both databases, and PgBouncer where the test asks."""
    chosen = any(
        "database_url" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize")
    )
    if "database_url" in metafunc.fixturenames and not chosen:
        through = metafunc.definition.get_closest_marker("through_pgbouncer")
        metafunc.parametrize(
            "database_url", [*BACKENDS, PGBOUNCER] if through else BACKENDS, indirect=True
        )


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
def pgbouncer(postgres: PostgresDatabases) -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling mode in front of the test Postgres server."""
    try:
        bouncer = PgBouncer(postgres.server)
    except PgBouncerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SQLiteTemplate:
    return SQLiteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SQLiteTemplate
) -> str:
    """A migrated, empty database: a fresh SQLite file, or the run's Postgres truncated."""
    if request.param == "sqlite":
        return sqlite_template.fresh(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    PostgresDatabases.truncate(url)
    if request.param == PGBOUNCER:
        bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
        return bouncer.url_for(url)
    return url


def make_settings(database_url: str, keys_dir: Path, **overrides: object) -> Settings:
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {
        "ISSUER_URL": "http://127.0.0.1:8000",
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEYS_DIR": str(keys_dir),
        "ISSUER_KEK": kek,
        "ISSUER_DATABASE_POOLING": pooling_of(database_url),
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return Settings.from_env(env)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def issuer_log() -> Iterator[list[logging.LogRecord]]:
    """Every record of the `issuer` loggers during the test. (caplog's handler sits on the
    root logger, which an app's logging configuration replaces when the app is built.)"""
    handler = _Records()
    logger = logging.getLogger("issuer")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "keys")


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url, pooling=settings.database_pooling)
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
