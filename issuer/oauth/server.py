"""The authorization server: a registry of grants plus what they share (authlib's shape).

One per process, built by `issuer.runtime.Runtime`: it owns the client cache and the login
throttle. The token endpoint calls `create_token_response` and never branches on the grant
type.
"""

from __future__ import annotations

from typing import Any

from issuer.clock import Clock
from issuer.errors import OAuthError, UnauthorizedClient, UnsupportedGrantType
from issuer.keyring.holder import KeyRingHolder
from issuer.keyring.ring import KeyRing
from issuer.metrics import TOKEN_REQUESTS
from issuer.oauth.client_auth import (
    ClientDirectory,
    ClientInfo,
    authenticate,
    credentials_from,
)
from issuer.oauth.forms import Form
from issuer.oauth.grants import DEFAULT_GRANTS, Grant, TokenRequest
from issuer.oauth.minting import Minter
from issuer.oauth.throttle import LoginThrottle
from issuer.settings import Settings
from issuer.store import clients
from issuer.store.database import Database, database_unavailable

__all__ = ["CLIENT_CACHE_SECONDS", "AuthorizationServer"]

# A disabled client stops being accepted within this many seconds (per process).
CLIENT_CACHE_SECONDS = 5.0


class AuthorizationServer:
    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        keys: KeyRingHolder,
        clock: Clock,
        grants: tuple[type[Grant], ...] = DEFAULT_GRANTS,
    ) -> None:
        self.settings = settings
        self.database = database
        self.keys = keys
        self.clock = clock
        self.minter = Minter(settings, keys)
        self.clients = ClientDirectory(self._load_client, ttl=CLIENT_CACHE_SECONDS)
        self.throttle = LoginThrottle(
            database, limit=settings.login_max_failures, window=settings.login_window_seconds
        )
        self._grants: dict[str, Grant] = {}
        for grant in grants:
            self.register_grant(grant)

    def register_grant(self, grant: type[Grant]) -> None:
        self._grants[grant.GRANT_TYPE] = grant(self)

    @property
    def grant_types(self) -> list[str]:
        return sorted(self._grants)

    def ring(self) -> KeyRing:
        """The current key ring; `KeysNotLoaded` until this process has loaded it."""
        return self.keys.ring

    async def _load_client(self, client_id: str) -> ClientInfo | None:
        async with self.database.session() as session:
            row = await clients.by_id(session, client_id)
        if row is None:
            return None
        return ClientInfo(
            client_id=row.client_id,
            public=row.public,
            secret_digest=row.secret_digest,
            grant_types=frozenset(row.grant_types or ()),
            scopes=tuple(row.scopes or ()),
            audiences=tuple(row.audiences or ()),
            alg=row.alg,
            access_token_ttl=row.access_token_ttl,
            refresh_token_ttl=row.refresh_token_ttl,
            disabled=row.disabled,
            previous_secret_digest=row.previous_secret_digest,
            previous_secret_expires_at=row.previous_secret_expires_at,
            introspect_any=row.introspect_any,
            name=row.name,
            redirect_uris=tuple(row.redirect_uris or ()),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
            consent_required=row.consent_required,
            id_token_alg=row.id_token_alg,
        )

    async def authenticate_client(self, form: Form, authorization: str | None) -> ClientInfo:
        credentials = credentials_from(form, authorization)
        return await authenticate(credentials, self.clients, now=self.clock())

    async def create_token_response(
        self, form: Form, *, authorization: str | None, address: str
    ) -> dict[str, Any]:
        """RFC 6749 §3.2: authenticate the client, pick the grant, let it answer; counted by
        grant type and error code."""
        named = form.all("grant_type")
        label = named[0] if len(named) == 1 and named[0] in self._grants else "other"
        try:
            response = await self._token_response(
                form, authorization=authorization, address=address
            )
        except OAuthError as exc:
            TOKEN_REQUESTS.labels(grant_type=label, error=exc.error).inc()
            raise
        except Exception as exc:
            unavailable = database_unavailable(exc)
            error = "temporarily_unavailable" if unavailable else "server_error"
            TOKEN_REQUESTS.labels(grant_type=label, error=error).inc()
            raise
        TOKEN_REQUESTS.labels(grant_type=label, error="none").inc()
        return response

    async def _token_response(
        self, form: Form, *, authorization: str | None, address: str
    ) -> dict[str, Any]:
        grant_type = form.require("grant_type")
        client = await self.authenticate_client(form, authorization)
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantType(f"unsupported grant_type {grant_type[:64]!r}")
        # RFC 6749 §5.2 unauthorized_client: not authorized to use this grant type.
        if grant_type not in client.grant_types:
            raise UnauthorizedClient(f"the client may not use the {grant_type} grant")
        request = TokenRequest(form=form, client=client, address=address, now=self.clock())
        return await grant.create_token_response(request)
