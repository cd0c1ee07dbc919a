"""Decoding the segments of a JWS Compact token: strict base64url (RFC 7515 §2, RFC 4648
§5) and one JSON object (RFC 8259), refusing every non-canonical form."""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

from .errors import Reason, VerificationError

__all__ = ["b64url", "json_object"]

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# A canonical encoding leaves the unused low bits of its last character zero (RFC 4648
# §3.5): 4 of them when the length is 2 mod 4, 2 when it is 3 mod 4.
_CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(_ALPHABET),
    frozenset(),
    frozenset(c for i, c in enumerate(_ALPHABET) if not i & 15),
    frozenset(c for i, c in enumerate(_ALPHABET) if not i & 3),
)


def b64url(segment: bytes) -> bytes:
    """The bytes a segment encodes, or `VerificationError(MALFORMED)`."""
    # RFC 7515 §2: base64url without padding; anything non-canonical is refused: padding,
    # the standard alphabet's + and /, any other character (strict decoding), a length of
    # 1 mod 4 (strict decoding) and non-zero trailing bits.
    rest = len(segment) & 3
    if segment and segment[-1] not in _CANONICAL_LAST[rest]:
        raise VerificationError(Reason.MALFORMED, "non-canonical base64url")
    if b"=" in segment or b"+" in segment or b"/" in segment:
        raise VerificationError(Reason.MALFORMED, "not base64url")
    try:
        return binascii.a2b_base64(
            segment.translate(_TO_STANDARD) + _PADDING[rest], strict_mode=True
        )
    except (ValueError, binascii.Error) as error:
        raise VerificationError(Reason.MALFORMED, "bad base64url") from error


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 §6)")


_decoder = json.JSONDecoder(parse_constant=_no_constants)
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> Any:
    # The C scanner alone when the text is one JSON value and nothing else (the usual
    # case); anything else (surrounding whitespace, errors) gets json.loads's own rules.
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        end = -1
    return value if end == len(text) else _decoder.decode(text)


def json_object(segment: bytes) -> dict[str, Any]:
    """The JSON object a base64url segment encodes, or `VerificationError(MALFORMED)`."""
    try:
        value = _loads(b64url(segment).decode("utf-8"))
    # JSONDecodeError is a ValueError; RecursionError is nesting deeper than the stack.
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise VerificationError(Reason.MALFORMED, "bad JSON") from error
    if type(value) is not dict:
        raise VerificationError(Reason.MALFORMED, "not a JSON object")
    return value
