"""`issuer clients …` beyond create: the admin-scope rule, the lifecycle commands."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import cli_env, one_line_error, run

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
