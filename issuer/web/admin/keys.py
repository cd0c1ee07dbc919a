"""/admin/keys: list, rotate and revoke signing keys (public material only)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from issuer.errors import InvalidRequest, NotFound
from issuer.keyring import rotation
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

__all__ = ["KeysController"]


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
    )
    async def rotate_keys(
        self, runtime: RuntimeDep, actor: Actor, data: JSONBody[RotateIn | None] = None
    ) -> list[RotationOut]:
        """Refused with 409 and Retry-After while the next key is younger than the JWKS
        max-age plus the ring refresh delay, unless `force` (which says what it risks)."""
        request = data or RotateIn()
        algs = [request.alg] if request.alg else list(runtime.settings.signing_algs)
        results: list[rotation.Rotation] = []
        for alg in algs:
            try:
                results.append(
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
        if any(result.outcome != "too_early" for result in results):
            await runtime.keys.refresh()
        else:
            wait = max(int(result.wait.total_seconds() + 0.999) for result in results)
            raise Conflict(
                "; ".join(result.message for result in results),
                headers={"Retry-After": str(max(1, wait))},
            )
        return [
            RotationOut(
                alg=result.alg,
                outcome=result.outcome,
                message=result.message,
                activated=result.activated,
                retired=result.retired,
                next=result.next,
                wait_seconds=int(result.wait.total_seconds() + 0.999),
                risk=result.risk,
            )
            for result in results
        ]

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
            message=result.message,
            activated=result.activated,
            next=result.next,
            risk=result.risk,
        )
