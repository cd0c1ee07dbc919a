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
