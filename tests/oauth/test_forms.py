"""The form parser reads exactly what `urllib.parse.parse_qsl` reads in strict mode (it is
a faster copy of it): the same fields for a valid text, a refusal for every invalid one."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from issuer.errors import InvalidRequest
from issuer.oauth.forms import MAX_FIELDS, parse_query

EDGES = [
    "",
    "a=1",
    "a=1&b=2&a=3",
    "a",
    "a=1&",
    "&a=1",
    "a=%zz",
    "a=%2",
    "a=%25",
    "a=%C3%A9",
    "a=%C3",
    "a+b=c+d%2B",
    "a==b",
    "=x",
    "a=1;b=2",
    "a=%00",
    "a=\u00e9",
    "&".join(["a=1"] * MAX_FIELDS),
    "&".join(["a=1"] * (MAX_FIELDS + 1)),
]
_ALPHABET = "ab=&+%2x0AFf\u00e9\x00;"
_rng = random.Random(20261206)
RANDOM = ["".join(_rng.choice(_ALPHABET) for _ in range(_rng.randint(0, 12))) for _ in range(3000)]


def _reference(text: str) -> dict[str, list[str]] | None:
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None
    if any("\0" in name or "\0" in value for name, value in pairs):
        return None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


@pytest.mark.parametrize("text", EDGES)
def test_edge_cases_read_as_parse_qsl_reads_them(text: str) -> None:
    expected = _reference(text)
    if expected is None:
        with pytest.raises(InvalidRequest):
            parse_query(text)
    else:
        assert dict(parse_query(text).fields()) == expected


def test_random_texts_read_as_parse_qsl_reads_them() -> None:
    for text in RANDOM:
        expected = _reference(text)
        try:
            got: dict[str, list[str]] | None = dict(parse_query(text).fields())
        except InvalidRequest:
            got = None
        assert got == expected, text
