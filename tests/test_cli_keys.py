"""`issuer keys list|rotate|revoke` on both databases; bad input is one line, non-zero."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest

from issuer.cli import main

KEK = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ISSUER_DATABASE_URL", database_url)
    monkeypatch.setenv("ISSUER_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ISSUER_KEK", KEK)
    monkeypatch.delenv("ISSUER_URL", raising=False)

    def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("issuer"), err
    assert ": error: " in lines[0]
    return lines[0]


def keys(cli, capsys) -> list[dict[str, str | None]]:  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, "keys", "list", "--json")
    assert code == 0, err
    listed: list[dict[str, str | None]] = json.loads(out)
    return listed


def first_keys(database_url: str, tmp_path: Path) -> None:
    import asyncio

    from issuer.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(database_url, tmp_path / "keys", ISSUER_KEK=KEK)

    async def start() -> None:
        async with create_app(settings).lifespan():
            pass

    asyncio.run(start())


def test_keys_list_shows_states_and_lifecycle_times(cli, capsys, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert keys(cli, capsys) == []
    first_keys(database_url, tmp_path)
    listed = keys(cli, capsys)
    assert sorted((k["alg"], k["state"]) for k in listed) == [
        ("EdDSA", "active"),
        ("EdDSA", "next"),
        ("RS256", "active"),
        ("RS256", "next"),
    ]
    assert set(listed[0]) == {
        "kid",
        "alg",
        "state",
        "created_at",
        "published_at",
        "activated_at",
        "retired_at",
        "unpublish_after",
        "revoked_at",
    }
    code, out, _ = cli(capsys, "keys", "list")
    assert code == 0 and out.splitlines()[0].startswith("kid")
    assert all(str(k["kid"]) in out for k in listed)


def test_keys_rotate_waits_then_force_rotates_and_says_the_risk(  # type: ignore[no-untyped-def]
    cli, capsys, database_url, tmp_path
) -> None:
    first_keys(database_url, tmp_path)
    code, out, err = cli(capsys, "keys", "rotate")
    assert code == 1 and out.count("not yet") == 2 and "left (or --force)" in out
    assert one_line_error(err) == "issuer: error: not rotated: RS256, EdDSA"
    code, out, err = cli(capsys, "keys", "rotate", "--alg", "EdDSA", "--force")
    assert code == 0, err
    assert "FORCED" in out and "unknown kid" in out
    states = {(k["alg"], k["state"]) for k in keys(cli, capsys)}
    assert ("EdDSA", "retired") in states and ("RS256", "retired") not in states


def test_keys_revoke_unpublishes_and_replaces_the_active_key(  # type: ignore[no-untyped-def]
    cli, capsys, database_url, tmp_path
) -> None:
    first_keys(database_url, tmp_path)
    [active] = [k for k in keys(cli, capsys) if k["alg"] == "RS256" and k["state"] == "active"]
    code, out, err = cli(capsys, "keys", "revoke", str(active["kid"]))
    assert code == 0, err
    assert f"revoked RS256 key {active['kid']}" in out and "is active now" in out
    after = {str(k["kid"]): k for k in keys(cli, capsys)}
    assert after[str(active["kid"])]["state"] == "revoked"
    assert after[str(active["kid"])]["revoked_at"]
    assert [k["state"] for k in after.values() if k["alg"] == "RS256"].count("active") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("keys", "revoke", "no-such-kid"), "no signing key with kid 'no-such-kid'"),
        # RFC 7638 thumbprints are base64url: one kid in 64 starts with "-".
        (("keys", "revoke", "-no-such-kid"), "no signing key with kid '-no-such-kid'"),
        (("keys", "revoke", "--", "-no-such-kid"), "no signing key with kid '-no-such-kid'"),
        (("keys", "rotate", "--alg", "HS256"), "invalid choice: 'HS256'"),
        (("keys", "frobnicate"), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(  # type: ignore[no-untyped-def]
    cli, capsys, database_url, tmp_path, argv, message
) -> None:
    first_keys(database_url, tmp_path)
    try:
        code, _, err = cli(capsys, *argv)
    except SystemExit as exit_:  # argparse's own errors
        code, err = int(str(exit_.code)), capsys.readouterr().err
    assert code != 0
    assert message in one_line_error(err)


def test_a_wrong_kek_is_one_line_for_serve_and_keys_list_does_not_need_it(  # type: ignore[no-untyped-def]
    cli, capsys, database_url, tmp_path, monkeypatch
) -> None:
    first_keys(database_url, tmp_path)
    before = keys(cli, capsys)
    # Public data only: the kids, states and times list without the key-encryption key.
    monkeypatch.delenv("ISSUER_KEK")
    assert keys(cli, capsys) == before
    assert not (tmp_path / "keys" / "kek").exists()
    monkeypatch.setenv("ISSUER_KEK", base64.urlsafe_b64encode(bytes(32)).decode())
    assert keys(cli, capsys) == before

    import uvicorn

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve must stop before the server starts")

    monkeypatch.setattr(uvicorn, "run", never)
    code, _, err = cli(capsys, "serve")
    # `serve` logs what it serves and migrates first; then one error line, no trace.
    assert code == 1 and "Traceback" not in err
    assert "key-encryption key" in one_line_error(err.strip().splitlines()[-1])


def test_keys_list_is_sorted_by_state_then_newest_first(  # type: ignore[no-untyped-def]
    cli, capsys, database_url, tmp_path
) -> None:
    first_keys(database_url, tmp_path)
    for _ in range(2):
        code, _, err = cli(capsys, "keys", "rotate", "--alg", "EdDSA", "--force")
        assert code == 0, err
    listed = keys(cli, capsys)
    states = [k["state"] for k in listed]
    assert states == ["active", "active", "next", "next", "retired", "retired"]
    for state in ("active", "next", "retired"):
        created = [str(k["created_at"]) for k in listed if k["state"] == state]
        assert created == sorted(created, reverse=True)
    code, out, _ = cli(capsys, "keys", "list")
    header, *rows = out.splitlines()
    assert header.split() == [
        "kid", "alg", "state", "created_at", "activated_at", "retired_at", "revoked_at"
    ]  # fmt: skip
    assert [row.split()[0] for row in rows] == [k["kid"] for k in listed]


def test_keys_list_into_a_closed_pipe_exits_quietly(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`issuer keys list | head -3`: the reader may go away before we write."""
    import os
    import subprocess
    import sys

    first_keys(database_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
    env["ISSUER_DATABASE_URL"] = database_url
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "issuer", "keys", "list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == 128 + 13
