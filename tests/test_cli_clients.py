"""`issuer clients …` beyond create: the admin-scope rule, the lifecycle commands."""

from __future__ import annotations

import json

import pytest

from issuer.accounts.secrets import secret_matches
from issuer.clock import utcnow
from issuer.store import audit, browser_sessions, clients, consents
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


# ---- the login's client options and a user's consents (issue 12) ------------------------


def test_a_login_client_is_created_and_shown_with_its_options(
    cli_env: str, capsys, monkeypatch
) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        "clients",
        "create",
        "spa",
        "--public",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--redirect-uri",
        "http://127.0.0.1:8080/cb",
        "--post-logout-redirect-uri",
        "https://app.example.com/bye",
        "--consent",
        "--id-token-alg",
        "EdDSA",
        "--name",
        "The App",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) == {"client_id": "spa", "client_secret": None}
    code, out, _ = run(capsys, monkeypatch, "clients", "show", "spa", "--json")
    shown = json.loads(out)
    assert shown["grant_types"] == ["authorization_code", "refresh_token"]  # public default
    assert shown["redirect_uris"] == ["https://app.example.com/cb", "http://127.0.0.1:8080/cb"]
    assert shown["post_logout_redirect_uris"] == ["https://app.example.com/bye"]
    assert (shown["consent_required"], shown["id_token_alg"], shown["name"]) == (
        True,
        "EdDSA",
        "The App",
    )

    code, out, err = run(
        capsys,
        monkeypatch,
        "clients",
        "update",
        "spa",
        "--redirect-uri",
        "com.example.app:/oauth",
        "--no-consent",
        "--id-token-alg",
        "RS256",
        "--no-post-logout-redirect-uri",
        "--json",
    )
    assert code == 0, err
    changed = json.loads(out)
    assert changed["redirect_uris"] == ["com.example.app:/oauth"]
    assert changed["post_logout_redirect_uris"] == []
    assert (changed["consent_required"], changed["id_token_alg"]) == (False, "RS256")
    assert changed["name"] == "The App"


def test_a_confidential_client_with_a_redirect_uri_defaults_to_the_code_flow(
    cli_env: str, capsys, monkeypatch
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "clients", "create", "web", "--redirect-uri", "https://w.example/cb"
    )
    assert code == 0, err
    code, out, _ = run(capsys, monkeypatch, "clients", "show", "web", "--json")
    assert json.loads(out)["grant_types"] == ["authorization_code", "refresh_token"]
    code, _, _ = run(capsys, monkeypatch, "clients", "create", "svc")
    code, out, _ = run(capsys, monkeypatch, "clients", "show", "svc", "--json")
    assert json.loads(out)["grant_types"] == ["client_credentials"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://app.example.com/cb", "https, http on a loopback host"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("https://app.example.com/cb#", "fragment"),
        ("javascript:alert(1)", "private-use scheme"),
        ("ftp://app.example.com/cb", "private-use scheme"),
        ("https:///cb", "https, http on a loopback host"),
        ("/relative/cb", "private-use scheme"),
        ("https://app.example.com/c b", "not a redirect URI"),
        ("https://[::1/cb", "not a redirect URI"),
        ("http://[zz]/cb", "not a redirect URI"),
    ],
)
@pytest.mark.parametrize("option", ["--redirect-uri", "--post-logout-redirect-uri"])
def test_a_bad_redirect_uri_is_refused_in_one_line(
    cli_env: str, capsys, monkeypatch, uri: str, message: str, option: str
) -> None:
    code, _, err = run(capsys, monkeypatch, "clients", "create", "spa", "--public", option, uri)
    assert code == 1 and message in one_line_error(err)


def test_bad_id_token_alg_and_name_are_refused(cli_env: str, capsys, monkeypatch) -> None:
    with pytest.raises(SystemExit) as usage:
        run(capsys, monkeypatch, "clients", "create", "spa", "--id-token-alg", "HS256")
    assert usage.value.code == 2 and "invalid choice" in capsys.readouterr().err
    code, _, err = run(capsys, monkeypatch, "clients", "create", "spa", "--name", " ")
    assert code == 1 and "client name" in one_line_error(err)


def test_users_consents_revoke_forgets_them(cli_env: str, capsys, monkeypatch) -> None:
    code, out, _ = run(
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
    for client_id in ("spa", "crm"):
        run(capsys, monkeypatch, "clients", "create", client_id, "--public")

    async def grant(session):  # type: ignore[no-untyped-def]
        for client_id in ("spa", "crm"):
            await consents.remember(session, user_id, client_id, ["openid"], now=utcnow())

    lookup(cli_env, grant)
    code, out, err = run(
        capsys, monkeypatch, "users", "consents", "revoke", "ADA@b.co", "--client", "spa"
    )
    assert code == 0, err
    assert out == f"user ADA@b.co ({user_id}): 1 consents revoked\n"
    assert lookup(cli_env, lambda s: consents.granted(s, user_id, "spa")) == frozenset()
    assert lookup(cli_env, lambda s: consents.granted(s, user_id, "crm")) == {"openid"}
    code, out, _ = run(capsys, monkeypatch, "users", "consents", "revoke", user_id, "--json")
    assert json.loads(out) == {"id": user_id, "client_id": None, "consents_revoked": 1}
    events = lookup(cli_env, lambda s: audit.recent(s, action="user.revoke_consents"))
    assert [e.detail for e in events] == [
        {"client_id": None, "consents_revoked": 1},
        {"client_id": "spa", "consents_revoked": 1},
    ]
    code, _, err = run(capsys, monkeypatch, "users", "consents", "revoke", "nobody@b.co")
    assert code == 1 and "no such user" in one_line_error(err)


@pytest.mark.parametrize("command", ["revoke-sessions", "disable"])
def test_ending_a_users_sessions_ends_their_browser_sessions(
    cli_env: str, capsys, monkeypatch, command: str
) -> None:
    for email in ("root@b.co", "ada@b.co"):
        code, out, _ = run(
            capsys,
            monkeypatch,
            "users",
            "create",
            email,
            "--role",
            "admin",
            "--password-stdin",
            "--json",
            stdin="correct horse",
        )
    user_id = json.loads(out)["id"]

    async def start(session):  # type: ignore[no-untyped-def]
        cookie, _ = await browser_sessions.start(
            session, user_id=user_id, now=utcnow(), lifetime=3600
        )
        return cookie

    cookies = [lookup(cli_env, start) for _ in range(2)]
    code, _, err = run(capsys, monkeypatch, "users", command, "ada@b.co")
    assert code == 0, err
    for cookie in cookies:
        assert (
            lookup(cli_env, lambda s, c=cookie: browser_sessions.find(s, c, now=utcnow())) is None
        )
    action = {"revoke-sessions": "user.revoke_sessions", "disable": "user.disable"}[command]
    [event] = lookup(cli_env, lambda s: audit.recent(s, action=action))
    assert event.detail == {"families_revoked": 0, "browser_sessions_ended": 2}
