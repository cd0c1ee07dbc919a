import re
from pathlib import Path

import pytest

from issuer.settings import ConfigError, Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.url == "http://127.0.0.1:8000"
    assert settings.database_url == "sqlite+aiosqlite:///issuer.db"
    assert settings.keys_dir == Path("keys")
    assert settings.kek is None
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (900, 2_592_000)
    assert settings.default_alg == "RS256"
    assert settings.jwks_max_age == 300


def test_plain_postgres_url_gets_the_async_driver() -> None:
    settings = Settings.from_env({"ISSUER_DATABASE_URL": "postgresql://u:p@db:5432/issuer"})
    assert settings.database_url == "postgresql+asyncpg://u:p@db:5432/issuer"


def test_pooling_and_listen_url() -> None:
    default = Settings.from_env({})
    assert (default.database_pooling, default.database_listen_url) == ("session", None)
    pooled = Settings.from_env(
        {
            "ISSUER_DATABASE_URL": "postgresql://u@pgbouncer:6432/issuer",
            "ISSUER_DATABASE_POOLING": "transaction",
            "ISSUER_DATABASE_LISTEN_URL": "postgresql://u@primary:5432/issuer",
        }
    )
    assert pooled.database_pooling == "transaction"
    assert pooled.database_listen_url == "postgresql+asyncpg://u@primary:5432/issuer"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ISSUER_DATABASE_URL", "not a url", "not a SQLAlchemy URL"),
        ("ISSUER_DATABASE_URL", "mysql://db/x", "must be postgresql+asyncpg"),
        ("ISSUER_KEK", "c2hvcnQ", "must decode to 32 bytes"),
        ("ISSUER_KEK", "!!!not base64!!!", "not base64url"),
        ("ISSUER_URL", "http://issuer.example.com", "must use https"),
        ("ISSUER_URL", "https://issuer.example.com?x=1", "query or fragment"),
        ("ISSUER_URL", "issuer.example.com", "absolute http(s) URL"),
        ("ISSUER_ACCESS_TOKEN_TTL", "soon", "whole number"),
        ("ISSUER_ACCESS_TOKEN_TTL", "0", "at least 1"),
        ("ISSUER_DEFAULT_ALG", "HS256", "RS256 or EdDSA"),
        ("ISSUER_RSA_KEY_SIZE", "1024", "at least 2048"),
        ("ISSUER_RING_REFRESH_SECONDS", "often", "a number"),
        ("ISSUER_JWKS_MAX_AGE", "-1", "at least 0"),
        ("ISSUER_ACCESS_LOG", "maybe", "must be on or off"),
        ("ISSUER_JWKS_MAX_AGE", "86401", "at most 86400"),
        ("ISSUER_JWKS_MAX_AGE", "9" * 30, "at most 86400"),
        ("ISSUER_DATABASE_POOLING", "statement", "session or transaction"),
        ("ISSUER_DATABASE_LISTEN_URL", "sqlite:///x.db", "postgresql+asyncpg"),
        ("ISSUER_DATABASE_LISTEN_URL", "not a url", "not a SQLAlchemy URL"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value)


def test_https_issuer_with_path_prefix_is_kept_without_trailing_slash() -> None:
    settings = Settings.from_env({"ISSUER_URL": "https://login.example.com/tenant-a/"})
    assert settings.url == "https://login.example.com/tenant-a"


def test_loopback_issuer_may_be_plain_http() -> None:
    assert Settings.from_env({"ISSUER_URL": "http://localhost:9000"}).url == "http://localhost:9000"
    assert Settings.from_env({"ISSUER_URL": "http://[::1]:9000"}).url == "http://[::1]:9000"


def test_login_page_settings_default_and_parse() -> None:
    defaults = Settings.from_env({})
    assert (defaults.session_lifetime, defaults.display_name) == (86_400, "issuer")
    settings = Settings.from_env(
        {"ISSUER_SESSION_LIFETIME": "3600", "ISSUER_DISPLAY_NAME": "  Example Login  "}
    )
    assert (settings.session_lifetime, settings.display_name) == (3600, "Example Login")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ISSUER_SESSION_LIFETIME", "a day", "whole number"),
        ("ISSUER_SESSION_LIFETIME", "59", "at least 60"),
        ("ISSUER_DISPLAY_NAME", "x" * 101, "at most 100 printable"),
        ("ISSUER_DISPLAY_NAME", "two\nlines", "at most 100 printable"),
    ],
)
def test_bad_login_page_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"), [("on", True), ("TRUE", True), ("0", False), ("", False)]
)
def test_the_access_log_is_a_switch(raw: str, expected: bool) -> None:
    assert Settings.from_env({"ISSUER_ACCESS_LOG": raw}).access_log is expected
