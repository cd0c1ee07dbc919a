"""Rotation and revocation: the key lifecycle as compare-and-set steps in one transaction.

`next` → `active` only once the next key has been published for the JWKS max-age (at least
the verifiers' 30 s refetch cool-down) plus the ring refresh delay, so that no verifier,
caching correctly or not, meets an unknown kid (`publication_delay`); the
old active key becomes `retired` and stays published until every token it may have signed
has expired; a fresh `next` is pre-published. `revoked` keys leave the JWKS at once. The
states and the moves allowed between them are `issuer.keyring.states`.

Two processes rotating at once: both read the same `active` key, both try
`UPDATE … SET state='retired' WHERE kid=:old AND state='active'`; the database lets one
win and the other updates no row and reports `lost_race` (the unique partial indexes
"one active / one next per alg" back this up). Retired keys past `unpublish_after` are
deleted by `purge_unpublished` (run by the key-maintenance job); revoked rows are kept, never
decrypted again, so that `issuer keys list` still shows what was compromised.

`rotate` and `revoke` return outcomes — data, plus a neutral `summary` — and never say how
to override a refusal: the CLI says `--force`, the admin API says `"force": true`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from issuer.keyring.lifecycle import new_key_row
from issuer.keyring.states import KeyState
from issuer.metrics import KEY_ROTATIONS
from issuer.settings import Settings
from issuer.store import audit, signing_keys
from issuer.store.database import Database
from issuer.store.models import SigningKey

__all__ = [
    "UNPUBLISH_MARGIN",
    "VERIFIER_REFETCH_COOLDOWN",
    "KeyOperationError",
    "Publication",
    "RevocationOutcome",
    "RotationOutcome",
    "RotationResult",
    "publication_delay",
    "purge_unpublished",
    "revoke",
    "rotate",
    "rotate_if_due",
]

log = logging.getLogger("issuer.keyring")

# Past the longest token lifetime: verifiers' leeway for clock skew, with room to spare.
UNPUBLISH_MARGIN = timedelta(minutes=5)

# The longest a verifier in the field waits after a fetch before it refetches for an unknown
# kid, ignoring Cache-Control: PyJWT's PyJWKClient (cooldown_duration) and jose's
# createRemoteJWKSet (cooldownDuration) both default to 30 s (so does issuer.verify).
VERIFIER_REFETCH_COOLDOWN = timedelta(seconds=30)


class KeyOperationError(Exception):
    """A key operation the caller asked for cannot be done (unknown kid, alg not configured)."""


class _LostRace(Exception):
    pass


class RotationResult(StrEnum):
    ROTATED = "rotated"
    TOO_EARLY = "too_early"
    """The next key has not been published long enough; nothing changed."""
    LOST_RACE = "lost_race"
    """A concurrent rotation won; nothing changed by this one."""


@dataclass(frozen=True, slots=True)
class Publication:
    """How long a key has been in the JWKS, of the time a cached JWKS may last."""

    kid: str
    published_for: timedelta
    needed: timedelta

    @property
    def short_by(self) -> timedelta:
        return max(self.needed - self.published_for, timedelta(0))

    @property
    def risk(self) -> str:
        """What signing with this key now breaks (a forced rotation, a revoked active key)."""
        return (
            f"{self.kid} signs now but has been published only {_seconds(self.published_for)} "
            f"of the {_seconds(self.needed)} a cached JWKS may last: verifiers holding an older "
            "JWKS see an unknown kid and reject its tokens until they refetch"
        )


@dataclass(frozen=True, slots=True)
class RotationOutcome:
    """What `rotate` did for one alg.

    `too_early_until` (TOO_EARLY) is when a rotation without force will be allowed, with
    the next key's `publication`; after a forced rotation `premature` is the activated key's
    publication, short of the delay.
    """

    alg: str
    result: RotationResult
    retired: str | None = None
    activated: str | None = None
    next: str | None = None
    too_early_until: datetime | None = None
    publication: Publication | None = None
    premature: Publication | None = None

    @property
    def outcome(self) -> str:
        return self.result.value

    @property
    def rotated(self) -> bool:
        return self.result is RotationResult.ROTATED

    @property
    def wait(self) -> timedelta:
        """How long until a rotation without force is allowed (zero unless TOO_EARLY)."""
        if self.result is not RotationResult.TOO_EARLY or self.publication is None:
            return timedelta(0)
        return self.publication.short_by

    @property
    def risk(self) -> str | None:
        return None if self.premature is None else self.premature.risk

    @property
    def summary(self) -> str:
        """One neutral line; how to override a refusal is for the caller to add."""
        if self.result is RotationResult.LOST_RACE:
            return f"{self.alg}: another rotation won; nothing changed by this one"
        if self.result is RotationResult.TOO_EARLY:
            shown = self.publication
            assert shown is not None
            return (
                f"{self.alg}: not yet: next key {shown.kid} has been published "
                f"{_seconds(shown.published_for)} of {_seconds(shown.needed)}; "
                f"{_seconds(shown.short_by)} left"
            )
        summary = (
            f"{self.alg}: {self.activated} is active; {self.retired} retired; "
            f"{self.next} pre-published as next"
        )
        return summary + (f"; FORCED: {self.risk}" if self.risk else "")


@dataclass(frozen=True, slots=True)
class RevocationOutcome:
    """What `revoke` did: the key's former state and its replacements, if any."""

    kid: str
    alg: str
    previous_state: KeyState
    activated: str | None = None
    next: str | None = None
    premature: Publication | None = None
    """Set when the key activated in place of a revoked active one is not yet widely known."""

    @property
    def risk(self) -> str | None:
        return None if self.premature is None else self.premature.risk

    @property
    def summary(self) -> str:
        summary = (
            f"revoked {self.alg} key {self.kid} (was {self.previous_state}); "
            "it is no longer published"
        )
        if self.activated:
            summary += f"; {self.activated} is active now"
        if self.next:
            summary += f"; {self.next} pre-published as next"
        if self.risk:
            summary += f"; RISK: {self.risk}"
        return summary


def publication_delay(settings: Settings) -> timedelta:
    """How long a `next` key must be published before it may sign: the JWKS max-age or the
    verifiers' refetch cool-down, whichever is longer, plus the ring refresh delay (every
    process publishes it by then).

    A verifier that last fetched before the key was published either honours max-age (its
    copy has expired by the time the key signs) or refetches on an unknown kid once its
    cool-down has passed, whatever Cache-Control said. docs/design.md, "Signing keys".
    """
    held = max(timedelta(seconds=settings.jwks_max_age), VERIFIER_REFETCH_COOLDOWN)
    return held + timedelta(seconds=settings.ring_refresh_seconds)


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


async def rotate(
    database: Database,
    *,
    settings: Settings,
    kek: bytes,
    alg: str,
    force: bool = False,
    now: datetime,
    actor: str,
) -> RotationOutcome:
    """Rotate alg's keys (next → active → retired, new next); the admin API calls this too.

    Refuses (TOO_EARLY, with the time left) while the next key is too new, unless `force`.
    Writes the audit events in the same transaction. The caller's key ring picks the change
    up on its next refresh (call `KeyRingHolder.refresh()` to see it at once).
    """
    _check_alg(alg, settings)
    delay = publication_delay(settings)
    try:
        # Read, decide, and only then generate (RSA takes a while) and write: the writes
        # compare and set, so whatever changed in between makes this one the loser.
        async with database.session() as session:
            active = await signing_keys.in_state(session, alg, KeyState.ACTIVE)
            upcoming = await signing_keys.in_state(session, alg, KeyState.NEXT)
        if active is None:
            raise KeyOperationError(
                f"no active {alg} key yet: the first keys are created when the issuer starts"
            )
        if upcoming is None:
            # A revoked next key leaves none: pre-publish one; the wait starts now.
            upcoming = new_key_row(alg, KeyState.NEXT, settings=settings, kek=kek, now=now)
            async with database.session() as session:
                await _create(session, upcoming, now=now, actor=actor)
        publication = Publication(upcoming.kid, now - upcoming.published_at, delay)
        premature = None
        if publication.short_by > timedelta(0):
            if not force:
                return RotationOutcome(
                    alg=alg,
                    result=RotationResult.TOO_EARLY,
                    next=upcoming.kid,
                    too_early_until=now + publication.short_by,
                    publication=publication,
                )
            premature = publication
        fresh_next = new_key_row(alg, KeyState.NEXT, settings=settings, kek=kek, now=now)
        async with database.session() as session:
            await _rotate_rows(
                session, active, upcoming, fresh_next, settings, now, actor, forced=premature
            )
    except (_LostRace, IntegrityError):
        log.info("%s rotation by %s lost to a concurrent one", alg, actor)
        return RotationOutcome(alg=alg, result=RotationResult.LOST_RACE)
    log.info("rotated %s keys: %s active, %s retired (%s)", alg, upcoming.kid, active.kid, actor)
    KEY_ROTATIONS.labels(alg=alg, trigger="scheduled" if actor == "scheduler" else "operator").inc()
    return RotationOutcome(
        alg=alg,
        result=RotationResult.ROTATED,
        retired=active.kid,
        activated=upcoming.kid,
        next=fresh_next.kid,
        publication=publication,
        premature=premature,
    )


async def _rotate_rows(
    session: AsyncSession,
    active: SigningKey,
    upcoming: SigningKey,
    fresh_next: SigningKey,
    settings: Settings,
    now: datetime,
    actor: str,
    *,
    forced: Publication | None,
) -> None:
    old_kid, new_kid = active.kid, upcoming.kid
    unpublish_after = now + _retention(settings, await signing_keys.longest_client_ttl(session))
    # Retire first: the "one active per alg" index is checked per statement on Postgres.
    if not await signing_keys.set_state(
        session,
        old_kid,
        expected=KeyState.ACTIVE,
        state=KeyState.RETIRED,
        retired_at=now,
        unpublish_after=unpublish_after,
    ):
        raise _LostRace
    if not await signing_keys.set_state(
        session, new_kid, expected=KeyState.NEXT, state=KeyState.ACTIVE, activated_at=now
    ):
        raise _LostRace
    detail = {"alg": active.alg, "forced": forced is not None}
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
) -> RevocationOutcome:
    """Revoke a key at once (compromise); the admin API calls this too.

    The key leaves the JWKS and stops verifying on each process's next ring refresh. Revoking
    the active key promotes the `next` key now (or a fresh key if there is none) and
    pre-publishes a new `next`; revoking the `next` key pre-publishes a new one.
    """
    delay = publication_delay(settings)
    async with database.session() as session:
        row = await signing_keys.by_kid(session, kid)
        if row is None:
            raise KeyOperationError(f"no signing key with kid {kid!r}")
        alg, previous = row.alg, KeyState(row.state)
        if not previous.can_become(KeyState.REVOKED):
            raise KeyOperationError(f"key {kid} is already revoked")
        if not await signing_keys.set_state(
            session, kid, expected=previous, state=KeyState.REVOKED, revoked_at=now
        ):
            raise KeyOperationError(f"key {kid} changed while revoking it; try again")
        audit.record(
            session,
            now=now,
            actor=actor,
            action="key.revoke",
            subject=kid,
            detail={"alg": alg, "previous_state": previous.value},
        )
        activated = created_next = premature = None
        if previous is KeyState.ACTIVE and alg in settings.signing_algs:
            upcoming = await signing_keys.in_state(session, alg, KeyState.NEXT)
            if upcoming is not None and await signing_keys.set_state(
                session,
                upcoming.kid,
                expected=KeyState.NEXT,
                state=KeyState.ACTIVE,
                activated_at=now,
            ):
                activated = upcoming.kid
                publication = Publication(activated, now - upcoming.published_at, delay)
                if publication.short_by > timedelta(0):
                    premature = publication
                audit.record(
                    session,
                    now=now,
                    actor=actor,
                    action="key.activate",
                    subject=activated,
                    detail={"alg": alg, "forced": True, "replaces": kid},
                )
            else:
                replacement = new_key_row(alg, KeyState.ACTIVE, settings=settings, kek=kek, now=now)
                await _create(session, replacement, now=now, actor=actor)
                activated = replacement.kid
                premature = Publication(activated, timedelta(0), delay)
        if previous in (KeyState.ACTIVE, KeyState.NEXT) and alg in settings.signing_algs:
            if await signing_keys.in_state(session, alg, KeyState.NEXT) is None:
                fresh = new_key_row(alg, KeyState.NEXT, settings=settings, kek=kek, now=now)
                await _create(session, fresh, now=now, actor=actor)
                created_next = fresh.kid
    outcome = RevocationOutcome(
        kid=kid,
        alg=alg,
        previous_state=previous,
        activated=activated,
        next=created_next,
        premature=premature,
    )
    log.info("%s by %s", outcome.summary, actor)
    return outcome


async def purge_unpublished(database: Database, *, now: datetime, actor: str) -> list[str]:
    """Delete retired keys whose tokens have all expired (past `unpublish_after`)."""
    async with database.session() as session:
        kids = await signing_keys.delete_unpublished_retired(session, now)
        for kid in kids:
            audit.record(session, now=now, actor=actor, action="key.delete", subject=kid)
    return kids


async def rotate_if_due(
    database: Database, *, settings: Settings, kek: bytes, now: datetime, actor: str = "scheduler"
) -> list[RotationOutcome]:
    """Scheduled rotation: rotate each alg whose active key is older than the period."""
    if settings.key_rotation_days <= 0:
        return []
    period = timedelta(days=settings.key_rotation_days)
    due: list[str] = []
    async with database.session() as session:
        for alg in settings.signing_algs:
            active = await signing_keys.in_state(session, alg, KeyState.ACTIVE)
            if active is None:
                continue
            if now - (active.activated_at or active.created_at) >= period:
                due.append(alg)
    results = []
    for alg in due:
        result = await rotate(database, settings=settings, kek=kek, alg=alg, now=now, actor=actor)
        log.info("scheduled rotation: %s", result.summary)
        results.append(result)
    return results
