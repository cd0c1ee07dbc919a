"""A failed password login, as the operator sees it: the metric, an `issuer.audit` log line
and, once the password was checked, a `user.login_failed` row in the audit table.

Never the password. The username tried is kept (it may be mistyped, and may name nobody);
the metric has one reason for an unknown user and a wrong password, so that it does not tell
which accounts exist, but the audit row names the account when there is one. An attempt
refused by the throttle is counted and logged but not stored: it cost no password check, and
a flood of them must not grow the table.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from issuer.metrics import LOGIN_FAILURES
from issuer.store import audit
from issuer.store.database import Database

__all__ = ["LOGIN_FAILED", "login_failed"]

LOGIN_FAILED = "user.login_failed"

audit_log = logging.getLogger("issuer.audit")


async def login_failed(
    database: Database,
    *,
    reason: Literal["invalid_credentials", "throttled", "disabled"],
    username: str,
    user_id: str | None,
    client_id: str,
    address: str,
    now: datetime,
) -> None:
    LOGIN_FAILURES.labels(reason=reason).inc()
    detail = {"username": username, "reason": reason, "client_id": client_id, "address": address}
    audit_log.info(
        "%s: %s (%s)",
        LOGIN_FAILED,
        username,
        reason,
        extra={"event": LOGIN_FAILED, **detail, "user_id": user_id},
    )
    if reason == "throttled":
        return
    async with database.session() as session:
        audit.record(
            session,
            now=now,
            actor=f"client:{client_id}",
            action=LOGIN_FAILED,
            subject=user_id or "",
            detail=detail,
        )
