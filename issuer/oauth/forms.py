"""Form-encoded request bodies (RFC 6749 §3.2, Appendix B), parsed strictly from raw bytes.

Litestar's form parser keeps the last of a repeated name; RFC 6749 §3.2 says request
parameters MUST NOT be included more than once, so we parse the body ourselves and can tell.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from urllib.parse import unquote

from issuer.errors import InvalidRequest

__all__ = ["FORM_MEDIA_TYPE", "Form", "parse_form", "parse_query", "refuse_nul"]

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 64


class Form:
    """Parameters of one request; `get` refuses a name sent twice."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str) -> str | None:
        """One value; an empty value counts as absent (RFC 6749 §3.1)."""
        values = self._fields.get(name)
        if not values:
            return None
        # RFC 6749 §3.2: request and response parameters MUST NOT be included more than once.
        if len(values) > 1:
            raise InvalidRequest(f"the parameter {name} is included more than once")
        return values[0] or None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise InvalidRequest(f"the parameter {name} is missing")
        return value

    def all(self, name: str) -> list[str]:
        """Every value of a parameter that may repeat (RFC 8707 `resource`)."""
        return [value for value in self._fields.get(name, []) if value]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def names(self) -> Collection[str]:
        return self._fields.keys()

    def fields(self) -> Mapping[str, list[str]]:
        """Every name with every value it was sent with, repeats included, for a check that
        tells a repeated parameter from a missing one itself (the authorization endpoint)."""
        return MappingProxyType(self._fields)


def parse_form(body: bytes, content_type: str | None) -> Form:
    """Parse an `application/x-www-form-urlencoded` UTF-8 body or raise `InvalidRequest`."""
    media_type, _, params = (content_type or "").partition(";")
    if media_type.strip().lower() != FORM_MEDIA_TYPE:
        # RFC 6749 §3.2: the client MUST use HTTP POST with this format.
        raise InvalidRequest(f"the request body must be {FORM_MEDIA_TYPE}")
    charset = params.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        raise InvalidRequest("the request body must be UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid form encoding") from None
    return _parse(text, "the request body is not valid form encoding")


def parse_query(query: str) -> Form:
    """The parameters of a URL's query (RFC 6749 §3.1: a GET to the authorization endpoint),
    as strictly as a form body."""
    return _parse(query, "the query is not valid URL encoding")


def _parse(text: str, malformed: str) -> Form:
    """`name=value` pairs joined by `&` (Appendix B: `+` is a space, `%XX` a UTF-8 byte),
    as `urllib.parse.parse_qsl(strict_parsing=True, errors="strict")` reads them, and as
    fast as a pair that needs no decoding allows (every token request has one)."""
    fields: dict[str, list[str]] = {}
    if not text:
        return Form(fields)
    if text.count("&") >= MAX_FIELDS:
        raise InvalidRequest(malformed)
    for pair in text.split("&"):
        name, equals, value = pair.partition("=")
        if not equals:
            raise InvalidRequest(malformed)
        name, value = _decoded(name, malformed), _decoded(value, malformed)
        refuse_nul(name, value)
        fields.setdefault(name, []).append(value)
    return Form(fields)


def _decoded(part: str, malformed: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    if "%" not in part:
        return part
    try:
        return unquote(part, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest(malformed) from None


def refuse_nul(*values: str) -> None:
    """No parameter of ours may hold a NUL: Postgres text cannot store one, and a value that
    reached the database with it failed there (a 500) instead of here (a 400)."""
    for value in values:
        if "\0" in value:
            raise InvalidRequest("a request parameter contains a NUL character")
