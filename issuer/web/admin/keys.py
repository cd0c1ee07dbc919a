"""/admin/keys: list, rotate and revoke signing keys (public material only)."""

from __future__ import annotations

import math
from datetime import timedelta

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from issuer.errors import InvalidRequest, NotFound
from issuer.keyring import rotation
from issuer.keyring.rotation import RotationOutcome, RotationResult
from issuer.store import signing_keys
from issuer.web.admin.guard import Actor
from issuer.web.admin.schemas import (
    Conflict,
    KeyOut,
    RevocationOut,
    RotateIn,
    RotationOut,
    errors,
)
from issuer.web.deps import RuntimeDep
from issuer.web.openapi import OptionalBody

__all__ = ["TOO_EARLY_HINT", "KeysController"]

# What an API caller can do about a refusal (the CLI names its own flag instead).
TOO_EARLY_HINT = (
    '; retry after the Retry-After delay, or send {"force": true} to rotate now (verifiers '
    "holding an older JWKS would reject the new key's tokens until they refetch)"
)


class KeysController(Controller):
    path = "/keys"

    @get(summary="List signing keys (public material only)", responses=errors())
    async def list_keys(self, runtime: RuntimeDep) -> list[KeyOut]:
        async with runtime.database.session() as session:
            rows = await signing_keys.all_keys(session)
        return [KeyOut.of(row) for row in rows]

    @post(
        "/rotate",
        status_code=200,
        summary="Rotate signing keys (next → active)",
        responses=errors(409),
        operation_class=OptionalBody,
    )
    async def rotate_keys(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[RotateIn | None] = None
    ) -> list[RotationOut]:
        """Refused with 409 and Retry-After while the next key is younger than the JWKS
        max-age (at least 30 s) plus the ring refresh delay, unless `force` (which says what
        it risks)."""
        request = data or RotateIn()
        algs = [request.alg] if request.alg else list(runtime.settings.signing_algs)
        outcomes: list[RotationOutcome] = []
        for alg in algs:
            try:
                outcomes.append(
                    await rotation.rotate(
                        runtime.database,
                        settings=runtime.settings,
                        kek=runtime.kek,
                        alg=alg,
                        force=request.force,
                        now=runtime.clock(),
                        actor=actor,
                    )
                )
            except rotation.KeyOperationError as exc:
                raise InvalidRequest(str(exc)) from None
        if all(outcome.result is RotationResult.TOO_EARLY for outcome in outcomes):
            # RFC 9110 §10.2.3: Retry-After says when the same request will succeed.
            wait = max(_whole_seconds(outcome.wait) for outcome in outcomes)
            raise Conflict(
                "; ".join(outcome.summary for outcome in outcomes) + TOO_EARLY_HINT,
                headers={"Retry-After": str(max(1, wait))},
            )
        await runtime.keys.refresh()
        return [_rotation_out(outcome) for outcome in outcomes]

    @post(
        "/{kid:str}/revoke",
        status_code=200,
        summary="Revoke a key now (compromise)",
        responses=errors(404, 409),
    )
    async def revoke_key(
        self, runtime: RuntimeDep, actor: Actor, kid: FromPath[str]
    ) -> RevocationOut:
        """The key leaves the JWKS at once; revoking the active key promotes the next one."""
        async with runtime.database.session() as session:
            if await signing_keys.by_kid(session, kid) is None:
                raise NotFound("no signing key with that kid")
        try:
            result = await rotation.revoke(
                runtime.database,
                settings=runtime.settings,
                kek=runtime.kek,
                kid=kid,
                now=runtime.clock(),
                actor=actor,
            )
        except rotation.KeyOperationError as exc:
            raise Conflict(str(exc)) from None
        await runtime.keys.refresh()
        return RevocationOut(
            kid=result.kid,
            alg=result.alg,
            previous_state=result.previous_state,
            message=result.summary,
            activated=result.activated,
            next=result.next,
            risk=result.risk,
        )


def _whole_seconds(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds())


def _rotation_out(outcome: RotationOutcome) -> RotationOut:
    too_early = outcome.result is RotationResult.TOO_EARLY
    return RotationOut(
        alg=outcome.alg,
        outcome=outcome.result.value,
        message=outcome.summary + (TOO_EARLY_HINT if too_early else ""),
        activated=outcome.activated,
        retired=outcome.retired,
        next=outcome.next,
        wait_seconds=_whole_seconds(outcome.wait),
        too_early_until=outcome.too_early_until,
        risk=outcome.risk,
    )
