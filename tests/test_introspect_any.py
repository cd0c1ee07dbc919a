"""Issue 11.9: the `introspect_any` client flag from the CLI, and its migration (0006)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text

from issuer.store import clients
from issuer.store.database import Database
from issuer.store.migrate import alembic_config
from tests.test_cli import cli_env, lookup, run  # noqa: F401 (cli_env is a fixture)


def test_clients_create_introspect_any(
    cli_env: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(capsys, monkeypatch, "clients", "create", "gw", "--introspect-any")
    assert code == 0, err
    code, _, err = run(capsys, monkeypatch, "clients", "create", "svc")
    assert code == 0, err
    assert lookup(cli_env, lambda s: clients.by_id(s, "gw")).introspect_any is True
    assert lookup(cli_env, lambda s: clients.by_id(s, "svc")).introspect_any is False


async def test_0006_gives_existing_clients_introspect_any_false(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "0005")
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO clients (client_id, public, grant_types, scopes, audiences, "
                    "disabled, created_at) VALUES ('old', false, '[]', '[]', '[]', false, "
                    "'2026-11-23')"
                )
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with database.session() as session:
            old = await clients.by_id(session, "old")
        assert old is not None and old.introspect_any is False
    finally:
        await database.dispose()
        await asyncio.to_thread(command.upgrade, config, "head")
