"""`issuer clients …` beyond create: the admin-scope rule, the lifecycle commands."""

from __future__ import annotations

import json

import pytest

from issuer.accounts.secrets import secret_matches
from issuer.store import clients
from tests.test_cli import cli_env, lookup, one_line_error, run, start_sessions

__all__ = ["cli_env"]


@pytest.mark.parametrize(
    "extra",
    [
        ["--grant-type", "password"],
        ["--grant-type", "refresh_token"],
        ["--public", "--grant-type", "refresh_token"],
    ],
)
def test_a_user_facing_client_with_the_admin_scope_is_refused(
    cli_env: str, capsys, monkeypatch, extra: list[str]
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "clients", "create", "web", "--scope", "issuer:admin", *extra
    )
    assert code == 1
    assert "cannot have scope issuer:admin" in one_line_error(err)


def test_a_client_credentials_client_may_have_the_admin_scope(
    cli_env: str, capsys, monkeypatch
) -> None:
    code, out, err = run(capsys, monkeypatch, "clients", "create", "ops", "--scope", "issuer:admin")
    assert code == 0, err and "client_secret: " in out


def test_a_client_id_shaped_like_a_user_id_is_refused(cli_env: str, capsys, monkeypatch) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        "users",
        "create",
        "ada@b.co",
        "--password-stdin",
        "--json",
        stdin="correct horse",
    )
    user_id = json.loads(out)["id"]
    assert user_id.startswith("u-")
    code, _, err = run(capsys, monkeypatch, "clients", "create", user_id)
    assert code == 1 and "user ids" in one_line_error(err)


@pytest.mark.parametrize("password", ["x", "1234567"])
def test_a_short_password_is_refused_in_one_line(
    cli_env: str, capsys, monkeypatch, password: str
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "users", "create", "a@b.co", "--password-stdin", stdin=password
    )
    assert code == 1 and "at least 8 characters" in one_line_error(err)


def test_the_last_admin_cannot_be_disabled(cli_env: str, capsys, monkeypatch) -> None:
    for email in ("root@b.co", "ops@b.co"):
        code, _, err = run(
            capsys,
            monkeypatch,
            "users",
            "create",
            email,
            "--role",
            "admin",
            "--password-stdin",
            stdin="password1",
        )
        assert code == 0, err
    code, _, err = run(capsys, monkeypatch, "users", "disable", "ops@b.co")
    assert code == 0, err
    code, _, err = run(capsys, monkeypatch, "users", "disable", "root@b.co")
    assert code == 1 and "last enabled user with the admin role" in one_line_error(err)


def test_the_client_lifecycle_from_the_shell(cli_env: str, capsys, monkeypatch) -> None:
    code, out, err = run(capsys, monkeypatch, "clients", "create", "svc", "--json")
    assert code == 0, err
    first = json.loads(out)["client_secret"]

    code, out, err = run(capsys, monkeypatch, "clients", "list")
    assert code == 0 and out.split()[:3] == ["svc", "confidential", "enabled"]
    code, out, _ = run(capsys, monkeypatch, "clients", "show", "svc", "--json")
    shown = json.loads(out)
    assert shown["client_id"] == "svc" and "secret" not in out

    code, out, err = run(
        capsys,
        monkeypatch,
        "clients",
        "update",
        "svc",
        "--scope",
        "read",
        "--scope",
        "write",
        "--access-token-ttl",
        "60",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["scopes"] == ["read", "write"]
    assert json.loads(out)["access_token_ttl"] == 60
    code, _, err = run(capsys, monkeypatch, "clients", "update", "svc")
    assert code == 1 and "nothing to change" in one_line_error(err)

    code, out, err = run(capsys, monkeypatch, "clients", "rotate-secret", "svc", "--overlap", "30")
    assert code == 0, err
    assert "client_secret: " in out and "only this once" in out and first not in out
    stored = lookup(cli_env, lambda s: clients.by_id(s, "svc"))
    assert secret_matches(first, stored.previous_secret_digest)
    assert stored.previous_secret_expires_at is not None

    code, out, _ = run(capsys, monkeypatch, "clients", "disable", "svc")
    assert code == 0 and "disabled: True" in out and "sessions_revoked: 0" in out
    code, out, _ = run(capsys, monkeypatch, "clients", "enable", "svc")
    assert code == 0 and "disabled: False" in out
    code, out, _ = run(capsys, monkeypatch, "clients", "delete", "svc")
    assert code == 0 and "deleted client svc" in out
    code, _, err = run(capsys, monkeypatch, "clients", "show", "svc")
    assert code == 1 and "no such client" in one_line_error(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["clients", "update", "svc", "--access-token-ttl", "2147483648"],
        ["clients", "rotate-secret", "svc", "--overlap", "-1"],
        ["clients", "list", "--offset", "9223372036854775808"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(capsys, monkeypatch, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(capsys, monkeypatch, *argv)
    assert caught.value.code == 2


def test_deleting_a_client_with_sessions_needs_force(cli_env: str, capsys, monkeypatch) -> None:
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
    start_sessions(cli_env, user_id, 2)  # for the client "app"
    code, _, err = run(capsys, monkeypatch, "clients", "delete", "app")
    assert code == 1 and "2 live sessions" in one_line_error(err)
    code, out, err = run(capsys, monkeypatch, "clients", "delete", "app", "--force", "--json")
    assert code == 0, err
    assert json.loads(out) == {"client_id": "app", "sessions_revoked": 2}
    assert lookup(cli_env, lambda s: clients.by_id(s, "app")) is None
