"""Each process's current key ring, reloaded from the database within a bounded delay."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from issuer.clock import Clock
from issuer.errors import KeysNotLoaded
from issuer.keyring.lifecycle import ensure_initial_keys, load_ring
from issuer.keyring.material import KeyMaterial
from issuer.keyring.ring import KeyRing, ring_changes
from issuer.keyring.rotation import purge_unpublished, rotate_if_due
from issuer.metrics import KEY_RING_RELOADS, watch_signing_keys
from issuer.settings import Settings
from issuer.store.database import Database, database_unavailable, unavailable_reason

__all__ = ["MAINTENANCE_INTERVAL", "KeyRingHolder"]

# How often the process holding the key-maintenance lease checks for due rotations.
MAINTENANCE_INTERVAL = 60.0

log = logging.getLogger("issuer.keyring")


class KeyRingHolder:
    """Holds the ring; `refresh()` swaps in a new snapshot when the rows changed."""

    def __init__(self, database: Database, settings: Settings, kek: bytes, clock: Clock) -> None:
        self._database = database
        self._settings = settings
        self._kek = kek
        self._clock = clock
        self._decrypted: dict[str, KeyMaterial] = {}
        self._ring: KeyRing | None = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def kek(self) -> bytes:
        """The key-encryption key; other server keys are derived from it (HMAC, one per use)."""
        return self._kek

    @property
    def ring(self) -> KeyRing:
        """The current ring; `KeysNotLoaded` (a 503 for every caller) until the first load."""
        if self._ring is None:
            raise KeysNotLoaded
        return self._ring

    @property
    def loaded(self) -> bool:
        return self._ring is not None

    async def start(self) -> None:
        """Create the first keys if the database has none, then load the ring."""
        await ensure_initial_keys(
            self._database, settings=self._settings, kek=self._kek, now=self._clock()
        )
        await self.refresh()

    async def refresh(self) -> KeyRing:
        async with self._lock:
            async with self._database.session() as session:
                ring, self._decrypted = await load_ring(
                    session,
                    settings=self._settings,
                    kek=self._kek,
                    now=self._clock(),
                    decrypted=self._decrypted,
                )
            if self._ring is not None and ring.version == self._ring.version:
                KEY_RING_RELOADS.labels(result="unchanged").inc()
                return self._ring
            if self._ring is not None:
                changes = ring_changes(self._ring, ring)
                log.info("key ring changed: %s", "; ".join(changes), extra={"changes": changes})
            KEY_RING_RELOADS.labels(result="changed").inc()
            watch_signing_keys(
                {alg: key.activated_at or key.published_at for alg, key in ring.active.items()},
                jwks=ring.jwks_body,
                keys=len(ring.published),
            )
            self._ring = ring
            return ring

    def changed(self) -> None:
        """The stored keys changed (a notification): reload now rather than at the next poll.
        Several changes before the reload starts cost one reload."""
        self._changed.set()

    async def poll_forever(self) -> None:
        """Reload every ISSUER_RING_REFRESH_SECONDS, or at once when `changed()`; a failed
        reload keeps the last ring."""
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the event is set, and this loop then outlives the process's close.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.ring_refresh_seconds):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await (self.refresh() if self.loaded else self.start())
            except Exception as exc:
                KEY_RING_RELOADS.labels(result="failed").inc()
                if not database_unavailable(exc):
                    log.exception("key ring reload failed; keeping the current ring")
                    continue
                log.warning(
                    "key ring reload failed, database unavailable (%s); keeping the current ring",
                    unavailable_reason(exc),
                )

    async def maintain(self) -> None:
        """One key-maintenance pass (run by the lease holder only, see `issuer.jobs`).

        Rotates every alg whose active key is older than ISSUER_KEY_ROTATION_DAYS, deletes
        retired keys whose tokens have all expired, and reloads this process's ring at once
        when something changed (the others see it within their refresh delay).
        """
        now = self._clock()
        rotations = await rotate_if_due(
            self._database, settings=self._settings, kek=self._kek, now=now
        )
        purged = await purge_unpublished(self._database, now=now, actor="scheduler")
        if purged:
            log.info("deleted retired keys past their publication: %s", ", ".join(purged))
        if purged or any(rotation.rotated for rotation in rotations):
            await self.refresh()

    async def readiness(self) -> str | None:
        if self._ring is None:
            return "signing keys not loaded"
        if self._settings.default_alg not in self._ring.active:
            return f"no active {self._settings.default_alg} signing key"
        return None
