"""One `issuer serve` per database for the fuzz runs, with an admin client to fuzz the admin
API as (its secret in `FuzzedIssuer`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from issuer.clock import utcnow
from issuer.runtime import Runtime
from issuer.store.database import Database
from issuer.web.admin.guard import ADMIN_SCOPE
from tests.conftest import BACKENDS, make_settings
from tests.databases import PostgresDatabases, SQLiteTemplate
from tests.oauth.support import add_client, add_user
from tests.served import Served, issuer_serving

ADMIN_CLIENT = "fuzz-admin"


@dataclass(frozen=True)
class FuzzedIssuer:
    served: Served
    admin_secret: str
    web_secret: str

    @property
    def url(self) -> str:
        return self.served.url


async def _accounts(database_url: str, issuer_url: str) -> tuple[str, str]:
    """The admin client (client_credentials, scope issuer:admin, for the issuer itself),
    a password client `web` and its user ada, as the fuzzers use them."""
    helpers = cast(Runtime, SimpleNamespace(clock=utcnow, settings=SimpleNamespace(url=issuer_url)))
    database = Database(database_url)
    try:
        admin = await add_client(
            database,
            helpers,
            ADMIN_CLIENT,
            grant_types=["client_credentials"],
            scopes=[ADMIN_SCOPE],
            audiences=[issuer_url],
        )
        web = await add_client(database, helpers)
        await add_user(database, helpers)
    finally:
        await database.dispose()
    assert admin is not None and web is not None
    return admin, web


@pytest.fixture(scope="package", params=BACKENDS)
def fuzzed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: SQLiteTemplate,
) -> Iterator[FuzzedIssuer]:
    directory: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        database_url = sqlite_template.fresh(directory)
    else:
        postgres: PostgresDatabases = request.getfixturevalue("postgres")
        database_url = postgres.create()
    settings = make_settings(database_url, directory / "keys")
    with issuer_serving(settings, directory) as served:
        admin, web = asyncio.run(_accounts(database_url, served.url))
        yield FuzzedIssuer(served, admin, web)
