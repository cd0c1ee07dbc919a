"""The key-encryption key: `ISSUER_KEK`, or a file under `ISSUER_KEYS_DIR` made on first start."""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import stat
from pathlib import Path

from issuer.settings import ConfigError, Settings, decode_kek

__all__ = ["derive_key", "load_kek"]


def derive_key(kek: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one use only, derived from the KEK (HMAC-SHA256 of the purpose): a key
    leaked from one use opens neither the stored private keys nor any other use."""
    return hmac.digest(kek, purpose, "sha256")


def load_kek(settings: Settings, *, create: bool = True) -> bytes:
    """Return the 32-byte KEK; create `keys/kek` (mode 0600) when allowed and missing."""
    if settings.kek is not None:
        return settings.kek
    path = settings.kek_path
    if path.exists():
        return _read_private(path)
    if not create:
        raise ConfigError(f"no key-encryption key: set ISSUER_KEK or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    # Written whole to a private temporary file, then linked into place: two processes
    # starting at once agree on one key, and nobody ever reads a half-written file.
    temporary = path.with_name(f".kek.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encoded + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        return _read_private(path)
    finally:
        temporary.unlink()
    return decode_kek(encoded, str(path))


def _read_private(path: Path) -> bytes:
    """The KEK from its file, refused if anyone but the owner may read or write it.

    The KEK opens every stored private key: a file that other users can read has leaked it,
    as ssh refuses a private key file with loose permissions.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"the key-encryption key file {path} is open to other users (mode {mode:o}); "
            f"restrict it with: chmod 600 {path}"
        )
    return decode_kek(path.read_text(encoding="ascii"), str(path))
