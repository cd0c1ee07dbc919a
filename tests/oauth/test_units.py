"""Units of the protocol core: strict forms, client credentials and cache."""

from __future__ import annotations

import base64

import pytest

from issuer.errors import InvalidClient, InvalidRequest
from issuer.oauth.client_auth import ClientDirectory, ClientInfo, authenticate, credentials_from
from issuer.oauth.forms import parse_form

FORM = "application/x-www-form-urlencoded"


def test_forms_decode_plus_and_percent_and_refuse_repeats() -> None:
    form = parse_form(b"a=x+y%2Bz&b=&resource=1&resource=2", FORM + "; charset=UTF-8")
    assert form.get("a") == "x y+z"
    assert form.get("b") is None  # RFC 6749 §3.1: empty = omitted
    assert form.all("resource") == ["1", "2"]
    with pytest.raises(InvalidRequest, match="more than once"):
        form.get("resource")
    with pytest.raises(InvalidRequest, match="missing"):
        form.require("c")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"a=1", "application/json"), (b"a=\xff", FORM), (b"a", FORM), (b"a=%ff", FORM)],
)
def test_forms_refuse_bad_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_form(body, content_type)


def info(client_id: str = "svc", *, public: bool = False, disabled: bool = False) -> ClientInfo:
    from issuer.accounts.secrets import secret_digest

    return ClientInfo(
        client_id=client_id,
        public=public,
        secret_digest=None if public else secret_digest("s3cret"),
        grant_types=frozenset({"client_credentials"}),
        scopes=(),
        audiences=("api",),
        alg=None,
        access_token_ttl=None,
        refresh_token_ttl=None,
        disabled=disabled,
    )


def test_exactly_one_authentication_method() -> None:
    basic = "Basic " + base64.b64encode(b"svc:s3cret").decode()
    both = parse_form(b"client_secret=s3cret", FORM)
    with pytest.raises(InvalidRequest, match="more than one"):
        credentials_from(both, basic)
    assert credentials_from(parse_form(b"", FORM), basic).method == "client_secret_basic"
    post = parse_form(b"client_id=svc&client_secret=s3cret", FORM)
    assert credentials_from(post, None).method == "client_secret_post"
    assert credentials_from(parse_form(b"client_id=spa", FORM), None).method == "none"
    with pytest.raises(InvalidClient):
        credentials_from(parse_form(b"", FORM), None)


async def test_a_disabled_client_stops_within_the_cache_bound() -> None:
    rows = {"svc": info()}
    loads: list[str] = []
    moment = [0.0]

    async def load(client_id: str) -> ClientInfo | None:
        loads.append(client_id)
        return rows.get(client_id)

    directory = ClientDirectory(load, ttl=5.0, monotonic=lambda: moment[0])
    credentials = credentials_from(parse_form(b"client_id=svc&client_secret=s3cret", FORM), None)
    assert (await authenticate(credentials, directory)).client_id == "svc"
    rows["svc"] = info(disabled=True)
    moment[0] = 4.9
    await authenticate(credentials, directory)  # still cached: one load so far
    assert loads == ["svc"]
    moment[0] = 5.0
    with pytest.raises(InvalidClient):
        await authenticate(credentials, directory)
    assert loads == ["svc", "svc"]


async def test_public_clients_authenticate_with_the_id_only_and_never_with_a_secret() -> None:
    async def load(client_id: str) -> ClientInfo | None:
        return info(client_id, public=True)

    directory = ClientDirectory(load)
    none = credentials_from(parse_form(b"client_id=spa", FORM), None)
    assert (await authenticate(none, directory)).public
    secret = credentials_from(parse_form(b"client_id=spa&client_secret=x", FORM), None)
    with pytest.raises(InvalidClient):
        await authenticate(secret, directory)
