"""Segment decoding: base64url exactly as RFC 7515 §2 and RFC 4648 §3.5 allow, nothing else."""

from __future__ import annotations

import base64
import binascii
import secrets

import pytest

from issuer.jose._segments import b64url
from issuer.jose.errors import Reason, VerificationError


def _reference_b64(segment: bytes) -> bytes | None:
    """The canonical base64url rule, spelled the slow way: decode, re-encode, compare."""
    try:
        raw = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (ValueError, binascii.Error):
        return None
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=") == segment else None


@pytest.mark.parametrize(
    "segment",
    [
        b"",
        b"QQ",
        b"QR",  # non-zero trailing bits
        b"QUE",
        b"QUF",
        b"QUFB",
        b"Q",
        b"QUFBQ",
        b"QQ==",
        b"QQ=",
        b"Q=Q",
        b"+/8",
        b"-_8",
        b"-_-",
        b"QU E",
        b"QUE\n",
        b"QU*E",
        b"QU.E",
        b"\x00QUE",
        b"QUFB\xff",
    ],
)
def test_base64url_decoding_is_canonical(segment: bytes) -> None:
    expected = _reference_b64(segment)
    if expected is None:
        with pytest.raises(VerificationError) as caught:
            b64url(segment)
        assert caught.value.reason is Reason.MALFORMED
    else:
        assert b64url(segment) == expected


def test_base64url_decoding_matches_the_reference_on_random_input() -> None:
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n*"
    for _ in range(20_000):
        segment = bytes(secrets.choice(alphabet) for _ in range(secrets.randbelow(10)))
        expected = _reference_b64(segment)
        try:
            assert b64url(segment) == expected, segment
        except VerificationError:
            assert expected is None, segment
