"""Rotation and revocation: the key lifecycle as compare-and-set steps in one transaction.

`next` → `active` only once the next key has been published for the JWKS max-age plus the
ring refresh delay (so no verifier with a correctly cached JWKS meets an unknown kid); the
old active key becomes `retired` and stays published until every token it may have signed
has expired; a fresh `next` is pre-published. `revoked` keys leave the JWKS at once.

Two processes rotating at once: both read the same `active` key, both try
`UPDATE … SET state='retired' WHERE kid=:old AND state='active'`; the database lets one
win and the other updates no row and reports `lost_race` (the unique partial indexes
"one active / one next per alg" back this up). Retired keys past `unpublish_after` are
deleted by `purge_unpublished` (run by the key-maintenance job); revoked rows are kept, never
decrypted again, so that `issuer keys list` still shows what was compromised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.keyring.lifecycle import new_key_row
from issuer.settings import Settings
from issuer.store import audit, signing_keys
from issuer.store.database import Database
from issuer.store.models import SigningKey

__all__ = [
    "UNPUBLISH_MARGIN",
    "KeyOperationError",
    "Revocation",
    "Rotation",
    "publication_delay",
    "purge_unpublished",
    "revoke",
    "rotate",
    "rotate_if_due",
]

log = logging.getLogger("issuer.keyring")

# Past the longest token lifetime: verifiers' leeway for clock skew, with room to spare.
UNPUBLISH_MARGIN = timedelta(minutes=5)


class KeyOperationError(Exception):
    """A key operation the caller asked for cannot be done (unknown kid, alg not configured)."""


class _LostRace(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `rotate` did: `rotated`, `too_early` (with `wait`), or `lost_race`."""

    alg: str
    outcome: Literal["rotated", "too_early", "lost_race"]
    message: str
    retired: str | None = None
    activated: str | None = None
    next: str | None = None
    wait: timedelta = timedelta(0)
    risk: str | None = None
    """Set when a forced rotation activated a key that caches may not know yet."""

    @property
    def rotated(self) -> bool:
        return self.outcome == "rotated"


@dataclass(frozen=True, slots=True)
class Revocation:
    """What `revoke` did: the key's former state and its replacements, if any."""

    kid: str
    alg: str
    previous_state: str
    message: str
    activated: str | None = None
    next: str | None = None
    risk: str | None = None


def publication_delay(settings: Settings) -> timedelta:
    """How long a `next` key must be published before it may sign (DESIGN, rotation)."""
    return timedelta(seconds=settings.jwks_max_age + settings.ring_refresh_seconds)


def _retention(settings: Settings, client_ttl: int) -> timedelta:
    # Keys sign access tokens only (refresh tokens are opaque handles).
    longest = max(settings.access_token_ttl, client_ttl)
    return timedelta(seconds=longest) + UNPUBLISH_MARGIN


def _check_alg(alg: str, settings: Settings) -> None:
    if alg not in settings.signing_algs:
        raise KeyOperationError(
            f"unknown alg {alg!r}: configured algs are {', '.join(settings.signing_algs)}"
        )


def _seconds(delta: timedelta) -> str:
    total = max(0, int(delta.total_seconds() + 0.999))
    minutes, seconds = divmod(total, 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _force_risk(kid: str, published_for: timedelta, delay: timedelta) -> str:
    return (
        f"{kid} signs now but has been published only {_seconds(published_for)} of the "
        f"{_seconds(delay)} a cached JWKS may last: verifiers holding an older JWKS see an "
        "unknown kid and reject its tokens until they refetch"
    )


async def rotate(
    database: Database,
    *,
    settings: Settings,
    kek: bytes,
    alg: str,
    force: bool = False,
    now: datetime,
    actor: str,
) -> Rotation:
    """Rotate alg's keys (next → active → retired, new next); the admin API calls this too.

    Refuses with the time left while the next key is too new, unless `force`. Writes the
    audit events in the same transaction. The caller's key ring picks the change up on its
    next refresh (call `KeyRingHolder.refresh()` to see it at once).
    """
    _check_alg(alg, settings)
    delay = publication_delay(settings)
    try:
        # Read, decide, and only then generate (RSA takes a while) and write: the writes
        # compare and set, so whatever changed in between makes this one the loser.
        async with database.session() as session:
            active = await signing_keys.in_state(session, alg, "active")
            upcoming = await signing_keys.in_state(session, alg, "next")
        if active is None:
            raise KeyOperationError(
                f"no active {alg} key yet: the first keys are created when the issuer starts"
            )
        if upcoming is None:
            # A revoked next key leaves none: pre-publish one; the wait starts now.
            upcoming = new_key_row(alg, "next", settings=settings, kek=kek, now=now)
            async with database.session() as session:
                await _create(session, upcoming, now=now, actor=actor)
        published_for = now - upcoming.published_at
        wait = delay - published_for
        risk = None
        if wait > timedelta(0):
            if not force:
                return Rotation(
                    alg=alg,
                    outcome="too_early",
                    next=upcoming.kid,
                    wait=wait,
                    message=(
                        f"{alg}: not yet: next key {upcoming.kid} has been published "
                        f"{_seconds(published_for)} of {_seconds(delay)}; "
                        f"{_seconds(wait)} left (or --force)"
                    ),
                )
            risk = _force_risk(upcoming.kid, published_for, delay)
        fresh_next = new_key_row(alg, "next", settings=settings, kek=kek, now=now)
        async with database.session() as session:
            await _rotate_rows(session, active, upcoming, fresh_next, settings, now, actor, risk)
    except (_LostRace, IntegrityError):
        log.info("%s rotation by %s lost to a concurrent one", alg, actor)
        return Rotation(
            alg=alg,
            outcome="lost_race",
            message=f"{alg}: another rotation won; nothing changed by this one",
        )
    log.info("rotated %s keys: %s active, %s retired (%s)", alg, upcoming.kid, active.kid, actor)
    return Rotation(
        alg=alg,
        outcome="rotated",
        retired=active.kid,
        activated=upcoming.kid,
        next=fresh_next.kid,
        risk=risk,
        message=(
            f"{alg}: {upcoming.kid} is active; {active.kid} retired; "
            f"{fresh_next.kid} pre-published as next" + (f"; FORCED: {risk}" if risk else "")
        ),
    )


async def _rotate_rows(
    session: AsyncSession,
    active: SigningKey,
    upcoming: SigningKey,
    fresh_next: SigningKey,
    settings: Settings,
    now: datetime,
    actor: str,
    risk: str | None,
) -> None:
    old_kid, new_kid = active.kid, upcoming.kid
    unpublish_after = now + _retention(settings, await signing_keys.longest_client_ttl(session))
    # Retire first: the "one active per alg" index is checked per statement on Postgres.
    if not await signing_keys.set_state(
        session,
        old_kid,
        expected="active",
        state="retired",
        retired_at=now,
        unpublish_after=unpublish_after,
    ):
        raise _LostRace
    if not await signing_keys.set_state(
        session, new_kid, expected="next", state="active", activated_at=now
    ):
        raise _LostRace
    detail = {"alg": active.alg, "forced": risk is not None}
    audit.record(
        session,
        now=now,
        actor=actor,
        action="key.retire",
        subject=old_kid,
        detail={**detail, "unpublish_after": unpublish_after.isoformat()},
    )
    audit.record(
        session, now=now, actor=actor, action="key.activate", subject=new_kid, detail=detail
    )
    await _create(session, fresh_next, now=now, actor=actor)


async def _create(session: AsyncSession, row: SigningKey, *, now: datetime, actor: str) -> None:
    await signing_keys.add(session, row)
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"key.create.{row.state}",
        subject=row.kid,
        detail={"alg": row.alg},
    )


async def revoke(
    database: Database, *, settings: Settings, kek: bytes, kid: str, now: datetime, actor: str
) -> Revocation:
    """Revoke a key at once (compromise); the admin API calls this too.

    The key leaves the JWKS and stops verifying on each process's next ring refresh. Revoking
    the active key promotes the `next` key now (or a fresh key if there is none) and
    pre-publishes a new `next`; revoking the `next` key pre-publishes a new one.
    """
    async with database.session() as session:
        row = await signing_keys.by_kid(session, kid)
        if row is None:
            raise KeyOperationError(f"no signing key with kid {kid!r}")
        alg, previous = row.alg, row.state
        if previous == "revoked":
            raise KeyOperationError(f"key {kid} is already revoked")
        if not await signing_keys.set_state(
            session, kid, expected=previous, state="revoked", revoked_at=now
        ):
            raise KeyOperationError(f"key {kid} changed while revoking it; run the command again")
        audit.record(
            session,
            now=now,
            actor=actor,
            action="key.revoke",
            subject=kid,
            detail={"alg": alg, "previous_state": previous},
        )
        activated = created_next = risk = None
        if previous == "active" and alg in settings.signing_algs:
            upcoming = await signing_keys.in_state(session, alg, "next")
            if upcoming is not None and await signing_keys.set_state(
                session, upcoming.kid, expected="next", state="active", activated_at=now
            ):
                activated = upcoming.kid
                published_for = now - upcoming.published_at
                if published_for < publication_delay(settings):
                    risk = _force_risk(activated, published_for, publication_delay(settings))
                audit.record(
                    session,
                    now=now,
                    actor=actor,
                    action="key.activate",
                    subject=activated,
                    detail={"alg": alg, "forced": True, "replaces": kid},
                )
            else:
                replacement = new_key_row(alg, "active", settings=settings, kek=kek, now=now)
                await _create(session, replacement, now=now, actor=actor)
                activated = replacement.kid
                risk = _force_risk(activated, timedelta(0), publication_delay(settings))
        if previous in ("active", "next") and alg in settings.signing_algs:
            if await signing_keys.in_state(session, alg, "next") is None:
                fresh = new_key_row(alg, "next", settings=settings, kek=kek, now=now)
                await _create(session, fresh, now=now, actor=actor)
                created_next = fresh.kid
    message = f"revoked {alg} key {kid} (was {previous}); it is no longer published"
    if activated:
        message += f"; {activated} is active now"
    if created_next:
        message += f"; {created_next} pre-published as next"
    if risk:
        message += f"; RISK: {risk}"
    log.info("%s by %s", message, actor)
    return Revocation(
        kid=kid,
        alg=alg,
        previous_state=previous,
        activated=activated,
        next=created_next,
        risk=risk,
        message=message,
    )


async def purge_unpublished(database: Database, *, now: datetime, actor: str) -> list[str]:
    """Delete retired keys whose tokens have all expired (past `unpublish_after`)."""
    async with database.session() as session:
        kids = await signing_keys.delete_unpublished_retired(session, now)
        for kid in kids:
            audit.record(session, now=now, actor=actor, action="key.delete", subject=kid)
    return kids


async def rotate_if_due(
    database: Database, *, settings: Settings, kek: bytes, now: datetime, actor: str = "scheduler"
) -> list[Rotation]:
    """Scheduled rotation: rotate each alg whose active key is older than the period."""
    if settings.key_rotation_days <= 0:
        return []
    period = timedelta(days=settings.key_rotation_days)
    due: list[str] = []
    async with database.session() as session:
        for alg in settings.signing_algs:
            active = await signing_keys.in_state(session, alg, "active")
            if active is None:
                continue
            if now - (active.activated_at or active.created_at) >= period:
                due.append(alg)
    results = []
    for alg in due:
        result = await rotate(database, settings=settings, kek=kek, alg=alg, now=now, actor=actor)
        log.info("scheduled rotation: %s", result.message)
        results.append(result)
    return results
