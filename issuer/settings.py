"""ISSUER_* environment → one frozen Settings, validated once at start."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from issuer.jose.algs import ALGS, SIGNING_ALGS
from issuer.proxies import parse_networks

__all__ = ["ConfigError", "Settings", "is_loopback"]

# RFC 9864 §2: the header names an Ed25519 key may sign under.
_EDDSA_NAMES = ALGS["EdDSA"].names


# A rotation waits for the next key to have been published this long (plus the ring refresh),
# and a revoked key lingers in caches as long: a day is the most that still lets both happen.
JWKS_MAX_AGE_LIMIT = 86_400


class ConfigError(ValueError):
    """A bad configuration value; the message names the variable and what is wrong."""


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address: where plain http stays on the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


def _issuer_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ISSUER_URL must be an absolute http(s) URL, got {raw!r}")
    if parts.query or parts.fragment:
        # RFC 8414 §2: the issuer identifier has no query or fragment components.
        raise ConfigError("ISSUER_URL must not have a query or fragment")
    if parts.scheme != "https" and not is_loopback(parts.hostname):
        raise ConfigError(f"ISSUER_URL must use https unless the host is loopback, got {raw!r}")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"ISSUER_DATABASE_URL is not a SQLAlchemy URL: {raw!r} "
            "(e.g. postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///issuer.db)"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "asyncpg"):
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver in ("", "aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    raise ConfigError(
        f"ISSUER_DATABASE_URL must be postgresql+asyncpg:// or sqlite+aiosqlite://, "
        f"got driver {url.drivername!r}"
    )


def _database_pooling(env: Mapping[str, str]) -> str:
    from issuer.store.database import POOLING_MODES

    pooling = env.get("ISSUER_DATABASE_POOLING") or "session"
    if pooling not in POOLING_MODES:
        raise ConfigError(
            f"ISSUER_DATABASE_POOLING must be {' or '.join(POOLING_MODES)}, got {pooling!r}"
        )
    return pooling


def _listen_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("ISSUER_DATABASE_LISTEN_URL")
    if not raw:
        return None
    try:
        url = _database_url(raw)
    except ConfigError as exc:
        message = str(exc).replace("ISSUER_DATABASE_URL", "ISSUER_DATABASE_LISTEN_URL")
        raise ConfigError(message) from None
    if not url.startswith("postgresql"):
        raise ConfigError("ISSUER_DATABASE_LISTEN_URL must be a postgresql+asyncpg:// URL")
    return url


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return parse_networks(env.get("ISSUER_TRUSTED_PROXIES") or "")
    except ValueError as exc:
        raise ConfigError(
            f"ISSUER_TRUSTED_PROXIES must be comma-separated addresses or CIDRs: {exc}"
        ) from None


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = env.get("ISSUER_METRICS_TOKEN") or None
    if token is not None and (len(token) < 16 or not all("!" <= c <= "~" for c in token)):
        raise ConfigError(
            "ISSUER_METRICS_TOKEN must be at least 16 printable ASCII characters, no spaces"
        )
    return token


def _display_name(env: Mapping[str, str]) -> str:
    name = (env.get("ISSUER_DISPLAY_NAME") or "").strip() or "issuer"
    if len(name) > 100 or not name.isprintable():
        raise ConfigError("ISSUER_DISPLAY_NAME must be at most 100 printable characters")
    return name


def decode_kek(raw: str, source: str) -> bytes:
    """Decode a base64url key-encryption key; it must be exactly 32 bytes (AES-256)."""
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} is not base64url") from None
    if len(key) != 32:
        raise ConfigError(f"{source} must decode to 32 bytes, got {len(key)}")
    return key


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the issuer reads from its environment; see the README's table."""

    url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite+aiosqlite:///issuer.db"
    # "transaction" behind PgBouncer in transaction mode: no named prepared statements.
    database_pooling: str = "session"
    # A direct connection (not through a transaction-mode pooler) for LISTEN; by default the
    # database URL itself unless ISSUER_DATABASE_POOLING=transaction.
    database_listen_url: str | None = None
    keys_dir: Path = Path("keys")
    kek: bytes | None = field(default=None, repr=False)
    access_token_ttl: int = 900
    refresh_token_ttl: int = 2_592_000
    family_lifetime: int = 7_776_000
    refresh_grace_seconds: int = 10
    client_secret_overlap_seconds: int = 0
    default_alg: str = "RS256"
    eddsa_jws_alg: str = "EdDSA"
    signing_algs: tuple[str, ...] = SIGNING_ALGS
    rsa_key_size: int = 2048
    jwks_max_age: int = 300
    ring_refresh_seconds: float = 5.0
    key_rotation_days: float = 0.0
    cleanup_interval_seconds: float = 600.0
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # A request body must arrive within this many seconds of its headers (else 408).
    body_read_timeout_seconds: int = 10
    # SIGTERM: in-flight requests get this long to finish before they are cancelled.
    shutdown_timeout_seconds: int = 10
    # Peers whose X-Forwarded-For is believed (the login throttle's address); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # When set, /metrics answers only a request bearing it (Authorization: Bearer …).
    metrics_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = 16_384
    # The hosted login pages: how long a browser session (SSO) lasts, and the name they show.
    session_lifetime: int = 86_400
    display_name: str = "issuer"
    # One `issuer.access` log record per HTTP request.
    access_log: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default_alg = env.get("ISSUER_DEFAULT_ALG") or "RS256"
        if default_alg not in SIGNING_ALGS:
            raise ConfigError(
                f"ISSUER_DEFAULT_ALG must be {' or '.join(SIGNING_ALGS)}, got {default_alg!r}"
            )
        eddsa = env.get("ISSUER_EDDSA_JWS_ALG") or "EdDSA"
        if eddsa not in _EDDSA_NAMES:
            raise ConfigError(
                f"ISSUER_EDDSA_JWS_ALG must be {' or '.join(_EDDSA_NAMES)}, got {eddsa!r}"
            )
        rsa_bits = _int(env, "ISSUER_RSA_KEY_SIZE", 2048, minimum=2048)
        if rsa_bits not in (2048, 3072, 4096):
            raise ConfigError(f"ISSUER_RSA_KEY_SIZE must be 2048, 3072 or 4096, got {rsa_bits}")
        kek_raw = env.get("ISSUER_KEK")
        return cls(
            url=_issuer_url(env.get("ISSUER_URL") or "http://127.0.0.1:8000"),
            database_url=_database_url(
                env.get("ISSUER_DATABASE_URL") or "sqlite+aiosqlite:///issuer.db"
            ),
            database_pooling=_database_pooling(env),
            database_listen_url=_listen_url(env),
            keys_dir=Path(env.get("ISSUER_KEYS_DIR") or "keys"),
            kek=decode_kek(kek_raw, "ISSUER_KEK") if kek_raw else None,
            access_token_ttl=_int(env, "ISSUER_ACCESS_TOKEN_TTL", 900, minimum=1),
            refresh_token_ttl=_int(env, "ISSUER_REFRESH_TOKEN_TTL", 2_592_000, minimum=1),
            family_lifetime=_int(env, "ISSUER_FAMILY_LIFETIME", 7_776_000, minimum=1),
            refresh_grace_seconds=_int(env, "ISSUER_REFRESH_GRACE_SECONDS", 10),
            client_secret_overlap_seconds=_int(env, "ISSUER_CLIENT_SECRET_OVERLAP_SECONDS", 0),
            default_alg=default_alg,
            eddsa_jws_alg=eddsa,
            rsa_key_size=rsa_bits,
            jwks_max_age=_int(env, "ISSUER_JWKS_MAX_AGE", 300, maximum=JWKS_MAX_AGE_LIMIT),
            ring_refresh_seconds=_float(env, "ISSUER_RING_REFRESH_SECONDS", 5.0, minimum=0.05),
            key_rotation_days=_float(env, "ISSUER_KEY_ROTATION_DAYS", 0.0),
            cleanup_interval_seconds=_float(
                env, "ISSUER_CLEANUP_INTERVAL_SECONDS", 600.0, minimum=1.0
            ),
            login_max_failures=_int(env, "ISSUER_LOGIN_MAX_FAILURES", 5, minimum=1),
            login_window_seconds=_int(env, "ISSUER_LOGIN_WINDOW_SECONDS", 300, minimum=1),
            body_read_timeout_seconds=_int(env, "ISSUER_BODY_READ_TIMEOUT_SECONDS", 10, minimum=1),
            shutdown_timeout_seconds=_int(env, "ISSUER_SHUTDOWN_TIMEOUT_SECONDS", 10),
            trusted_proxies=_trusted_proxies(env),
            metrics_token=_metrics_token(env),
            session_lifetime=_int(env, "ISSUER_SESSION_LIFETIME", 86_400, minimum=60),
            display_name=_display_name(env),
            access_log=_bool(env, "ISSUER_ACCESS_LOG", False),
        )

    @property
    def kek_path(self) -> Path:
        return self.keys_dir / "kek"

    @property
    def is_https(self) -> bool:
        return self.url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
