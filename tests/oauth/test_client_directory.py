"""The per-process client cache answers known and unknown ids alike."""

from __future__ import annotations

from issuer.oauth.client_auth import ClientDirectory, ClientInfo


def _info(client_id: str) -> ClientInfo:
    return ClientInfo(
        client_id=client_id,
        public=False,
        secret_digest=b"\0" * 32,
        grant_types=frozenset({"client_credentials"}),
        scopes=(),
        audiences=(),
        alg=None,
        access_token_ttl=None,
        refresh_token_ttl=None,
        disabled=False,
    )


async def test_an_unknown_client_id_is_cached_like_a_known_one() -> None:
    rows: dict[str, ClientInfo] = {"svc": _info("svc")}
    loads: list[str] = []
    moment = [0.0]

    async def load(client_id: str) -> ClientInfo | None:
        loads.append(client_id)
        return rows.get(client_id)

    directory = ClientDirectory(load, ttl=5.0, monotonic=lambda: moment[0])
    for _ in range(3):
        assert await directory.get("svc") is not None
        assert await directory.get("nobody") is None
    # One load each: repeated guesses of unknown ids cost no more than known ones.
    assert loads == ["svc", "nobody"]

    rows["nobody"] = _info("nobody")
    moment[0] = 5.0
    assert await directory.get("nobody") is not None  # registered elsewhere: within ttl


async def test_a_client_registered_here_is_seen_at_once() -> None:
    rows: dict[str, ClientInfo] = {}

    async def load(client_id: str) -> ClientInfo | None:
        return rows.get(client_id)

    directory = ClientDirectory(load, ttl=5.0, monotonic=lambda: 0.0)
    assert await directory.get("new") is None
    rows["new"] = _info("new")
    directory.forget("new")
    assert await directory.get("new") is not None
