"""The CLI per the contract, on both databases; every error is one line and non-zero."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from issuer.accounts.secrets import secret_matches
from issuer.cli import main
from issuer.clock import utcnow
from issuer.store import audit, clients, users
from issuer.store.database import Database
from issuer.store.models import Client
from tests.oauth.support import store_family
from tests.pgbouncer import pooling_of

# migrate, users and clients through PgBouncer in transaction mode too.
pytestmark = pytest.mark.through_pgbouncer


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> str:
    monkeypatch.setenv("ISSUER_DATABASE_URL", database_url)
    monkeypatch.setenv("ISSUER_DATABASE_POOLING", pooling_of(database_url))
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("ISSUER_KEK", raising=False)
    monkeypatch.delenv("ISSUER_URL", raising=False)
    return database_url


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("issuer: error: "), err
    return lines[0]


def lookup(database_url: str, coro_factory):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        database = Database(database_url, pooling=pooling_of(database_url))
        try:
            async with database.session() as session:
                return await coro_factory(session)
        finally:
            await database.dispose()

    return asyncio.run(go())


def test_migrate_is_idempotent(cli_env: str, capsys, monkeypatch) -> None:
    for _ in range(2):
        code, out, _ = run(capsys, monkeypatch, "migrate")
        assert code == 0 and "newest revision" in out


def test_users_create_reads_the_password_from_stdin(cli_env: str, capsys, monkeypatch) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        "users",
        "create",
        "Ada@Example.com",
        "--role",
        "admin",
        "--role",
        "ops",
        "--password-stdin",
        "--json",
        stdin="s3cret pass\n",
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["email"] == "ada@example.com" and created["roles"] == ["admin", "ops"]
    stored = lookup(cli_env, lambda s: users.by_email(s, "ADA@example.com"))
    assert stored.id == created["id"]
    assert stored.password_hash.startswith("$argon2id$")
    assert "s3cret" not in stored.password_hash


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["users", "create", "a@b.co", "--password-stdin"], "", "password is empty"),
        (["users", "create", "a@b.co"], "password1", "--password-stdin"),
        (["users", "create", "not-an-email", "--password-stdin"], "password1", "not an e-mail"),
        (["clients", "create", "svc", "--grant-type", "implicit"], "", "unknown grant type"),
        (
            ["clients", "create", "svc", "--public", "--grant-type", "client_credentials"],
            "",
            "public client",
        ),
        (["clients", "create", "bad id!"], "", "not a client id"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    cli_env: str, capsys, monkeypatch, argv: list[str], stdin: str, message: str
) -> None:
    code, _, err = run(capsys, monkeypatch, *argv, stdin=stdin)
    assert code != 0
    assert message in one_line_error(err)


def test_duplicate_email_is_refused_case_insensitively(cli_env: str, capsys, monkeypatch) -> None:
    assert (
        run(
            capsys, monkeypatch, "users", "create", "a@b.co", "--password-stdin", stdin="password1"
        )[0]
        == 0
    )
    code, _, err = run(
        capsys, monkeypatch, "users", "create", "A@B.CO", "--password-stdin", stdin="password1"
    )
    assert code != 0 and "already exists" in one_line_error(err)


def test_clients_create_prints_the_secret_once_as_json(cli_env: str, capsys, monkeypatch) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        "clients",
        "create",
        "svc",
        "--grant-type",
        "client_credentials",
        "--audience",
        "urn:api",
        "--scope",
        "read",
        "--alg",
        "EdDSA",
        "--json",
    )
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == {"client_id", "client_secret"} and created["client_id"] == "svc"
    stored = lookup(cli_env, lambda s: clients.by_id(s, "svc"))
    assert stored.alg == "EdDSA" and stored.audiences == ["urn:api"] and stored.scopes == ["read"]
    assert secret_matches(created["client_secret"], stored.secret_digest)
    code, _, err = run(capsys, monkeypatch, "clients", "create", "svc")
    assert code != 0 and "already exists" in one_line_error(err)


def test_clients_create_plain_output_and_public_client(cli_env: str, capsys, monkeypatch) -> None:
    code, out, _ = run(capsys, monkeypatch, "clients", "create", "svc")
    assert code == 0 and "client_secret: " in out and "only this once" in out
    code, out, _ = run(capsys, monkeypatch, "clients", "create", "spa", "--public")
    assert code == 0 and "public client spa" in out and "secret" not in out


def test_database_down_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setenv("ISSUER_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path))
    for argv, stdin in (
        (["clients", "create", "svc"], ""),
        (["users", "create", "a@b.co", "--password-stdin"], "password1"),
        (["migrate"], ""),
    ):
        code, _, err = run(capsys, monkeypatch, *argv, stdin=stdin)
        assert code != 0
        assert "database unavailable" in one_line_error(err)


def test_unmigrated_database_says_to_migrate(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setenv("ISSUER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path))
    code, _, err = run(capsys, monkeypatch, "clients", "create", "svc")
    assert code != 0 and "issuer migrate" in one_line_error(err)


def test_commands_other_than_migrate_never_create_an_sqlite_file(
    monkeypatch, capsys, tmp_path: Path
) -> None:
    missing = tmp_path / "issuer.db"
    monkeypatch.setenv("ISSUER_DATABASE_URL", "sqlite+aiosqlite:///issuer.db")
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.chdir(tmp_path)
    for argv in (["clients", "list"], ["keys", "list"], ["users", "enable", "a@b.co"]):
        code, _, err = run(capsys, monkeypatch, *argv)
        assert code == 1
        assert f"no SQLite database at {missing}: run `issuer migrate`" in one_line_error(err)
    assert list(tmp_path.iterdir()) == []


def test_migrate_names_the_database_and_refuses_a_missing_directory(
    monkeypatch, capsys, tmp_path: Path
) -> None:
    target = tmp_path / "data" / "nested" / "issuer.db"
    monkeypatch.setenv("ISSUER_DATABASE_URL", "sqlite+aiosqlite:///data/nested/issuer.db")
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, monkeypatch, "migrate")
    assert code == 1
    assert f"the directory of the SQLite database {target} does not exist" in one_line_error(err)
    assert "--create-db-dir" in err
    assert not (tmp_path / "data").exists()
    code, out, err = run(capsys, monkeypatch, "migrate", "--create-db-dir")
    assert code == 0, err
    assert out.strip() == f"database is at the newest revision: SQLite file {target}"
    assert target.is_file()


def test_migrate_names_the_database_it_migrated(cli_env: str, capsys, monkeypatch) -> None:
    from issuer.store.database import sqlite_path

    code, out, err = run(capsys, monkeypatch, "migrate")
    assert code == 0, err
    path = sqlite_path(cli_env)
    shown = f"SQLite file {path}" if path else f"PostgreSQL {cli_env}"
    assert out.strip() == f"database is at the newest revision: {shown}"


def test_a_postgres_database_is_named_without_its_password() -> None:
    from issuer.store.database import describe_database

    described = describe_database("postgresql+asyncpg://issuer:s3cret@db:5432/issuer")
    assert described == "PostgreSQL postgresql+asyncpg://issuer:***@db:5432/issuer"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--port", "99999"], "argument --port: must be between 1 and 65535"),
        (["serve", "--port", "0"], "argument --port: must be between 1 and 65535"),
        (["serve", "--workers", "0"], "argument --workers: must be between 1 and 256"),
        (["serve", "--workers", "many"], "argument --workers: not an integer: 'many'"),
    ],
)
def test_serve_refuses_a_bad_port_or_worker_count(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in one_line_error(capsys.readouterr().err.replace("issuer serve:", "issuer:"))


def test_bad_configuration_is_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ISSUER_KEK", "too-short")
    code, _, err = run(capsys, monkeypatch, "migrate")
    assert code != 0 and "ISSUER_KEK" in one_line_error(err)


def test_usage_errors_exit_2(capsys, monkeypatch) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["clients", "create", "svc", "--alg", "HS256"])
    assert caught.value.code == 2


def start_sessions(database_url: str, user_id: str, count: int) -> None:
    async def go(session):  # type: ignore[no-untyped-def]
        now = utcnow()
        await clients.add(session, Client(client_id="app", created_at=now))
        for _ in range(count):
            await store_family(
                session,
                family_id=str(uuid.uuid4()),
                user_id=user_id,
                client_id="app",
                scope="",
                audience="http://127.0.0.1:8000",
                now=now,
                expires_at=now + timedelta(days=1),
            )

    lookup(database_url, go)


def test_users_disable_enable_and_revoke_sessions_by_email_or_id(
    cli_env: str, capsys, monkeypatch
) -> None:
    code, out, _ = run(
        capsys,
        monkeypatch,
        "users",
        "create",
        "ada@b.co",
        "--password-stdin",
        "--json",
        stdin="password1",
    )
    user_id = json.loads(out)["id"]
    start_sessions(cli_env, user_id, 2)

    code, out, err = run(capsys, monkeypatch, "users", "disable", "ADA@b.co", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "id": user_id,
        "email": "ada@b.co",
        "disabled": True,
        "sessions_revoked": 2,
    }
    code, out, _ = run(capsys, monkeypatch, "users", "enable", user_id)
    assert code == 0 and out == f"user ada@b.co ({user_id}) is enabled; 0 sessions revoked\n"
    assert not lookup(cli_env, lambda s: users.by_id(s, user_id)).disabled
    code, out, _ = run(capsys, monkeypatch, "users", "revoke-sessions", "ada@b.co")
    assert code == 0 and "is enabled; 0 sessions revoked" in out

    events = lookup(cli_env, lambda s: audit.recent(s))
    assert [e.action for e in events][:3] == ["user.revoke_sessions", "user.enable", "user.disable"]
    assert {e.actor for e in events[:3]} == {events[0].actor} and events[0].actor.startswith("cli")
    assert events[2].detail == {"families_revoked": 2, "browser_sessions_ended": 0}


@pytest.mark.parametrize("command", ["disable", "enable", "revoke-sessions"])
@pytest.mark.parametrize("user", ["nobody@b.co", "no-such-id"])
def test_users_change_of_an_unknown_user_is_one_line(
    cli_env: str, capsys, monkeypatch, command: str, user: str
) -> None:
    code, _, err = run(capsys, monkeypatch, "users", command, user)
    assert code == 1 and one_line_error(err) == f"issuer: error: no such user: {user}"


def test_serve_no_migrate_leaves_the_schema_to_the_one_shot_migrate(
    cli_env: str, capsys, monkeypatch
) -> None:
    import uvicorn

    import issuer.store.migrate

    served: list[dict[str, object]] = []

    def must_not_migrate(url: str) -> None:
        raise AssertionError("serve --no-migrate migrated")

    monkeypatch.setattr(issuer.store.migrate, "upgrade", must_not_migrate)
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))
    code, out, err = run(capsys, monkeypatch, "serve", "--no-migrate", "--port", "8123")
    assert code == 0, err
    assert out.startswith("not migrating (--no-migrate): ")
    assert served and served[0]["port"] == 8123
