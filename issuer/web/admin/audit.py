"""/admin/audit: the audit log, newest first."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from issuer.store import audit
from issuer.web.admin.schemas import AuditOut, Limit, errors
from issuer.web.deps import RuntimeDep

__all__ = ["AuditController"]


class AuditController(Controller):
    path = "/audit"

    @get(summary="Read the audit log, newest first", responses=errors())
    async def list_audit(
        self,
        runtime: RuntimeDep,
        limit: Limit = 100,
        action: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> list[AuditOut]:
        async with runtime.database.session() as session:
            rows = await audit.recent(session, limit=limit, action=action)
        return [AuditOut.of(row) for row in rows]
