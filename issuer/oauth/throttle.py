"""Failed-login throttling: each attempt reserves its place *before* the password is checked.

The policy (ISSUER_LOGIN_MAX_FAILURES = L per ISSUER_LOGIN_WINDOW_SECONDS):
- one account from one address: L failures, then that pair waits for the window's end. A
  user's own typos, or a guesser at one address, hold up nobody else;
- one address across accounts (password spraying): CEILING_FACTOR * L;
- one account across addresses (a distributed guesser): CEILING_FACTOR * L.
Past a limit the answer is 429 `slow_down` with Retry-After, never a lockout that outlives
the window or needs an admin. Behind a shared front end the address is the front end's
unless ISSUER_TRUSTED_PROXIES names it (`issuer.proxies`).

The counters live in the database (`issuer.store.login_attempts`), so every process shares
one budget. An attempt is counted against each of its keys at once; if any counter is then
over its limit the attempt is refused without a verdict and its counts are taken back (if
only attempts still awaiting their verdict fill the limit, it queues behind them for up to
MAX_QUEUE_SECONDS first). A correct password takes its attempt back as well (and clears its
pair's count), so what remains counted is the failures. However many guesses arrive at
once, in however many processes, at most the limit of them get an answer about the password.

Within one process, attempts of one pair also pass a gate of `limit` places before they are
counted: the ones beyond it wait on the gate, costing nothing, instead of polling the counters
(many logins of one account from one address at once, as a benchmark or a retrying client
sends them, otherwise spent the core on polls instead of on password checks).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import datetime

from issuer.store import login_attempts
from issuer.store.database import Database
from issuer.store.login_attempts import Count, counter_key

__all__ = ["CEILING_FACTOR", "LoginThrottle", "Reservation"]

# The per-account and per-address ceilings, as multiples of the per-pair limit.
CEILING_FACTOR = 4
# How long an attempt queues behind attempts still awaiting their verdict, polling the
# counters with a growing pause, before it is throttled after all.
MAX_QUEUE_SECONDS = 5.0
FIRST_PAUSE, MAX_PAUSE = 0.02, 0.25


@dataclass(slots=True)
class _Gate:
    """This process's places for one pair's attempts awaiting their verdict."""

    places: asyncio.Semaphore
    users: int = 0  # holders and waiters: the gate is dropped when none are left


@dataclass(frozen=True, slots=True)
class Reservation:
    """One login attempt, counted; `retry_after` is set when it was refused."""

    counts: tuple[Count, ...]
    cleared_on_success: tuple[bytes, ...]
    retry_after: int | None = None
    gate: bytes | None = field(default=None, repr=False)
    """The pair whose gate place this attempt holds until its verdict."""


class LoginThrottle:
    """At most `limit` failed logins per (account, address) within `window` seconds, and
    `CEILING_FACTOR` times as many per account and per address."""

    def __init__(self, database: Database, *, limit: int, window: float) -> None:
        self.database = database
        self.limit = limit
        self.window = window
        self._gates: dict[bytes, _Gate] = {}

    def _limits(self, account: str, address: str) -> dict[bytes, int]:
        ceiling = CEILING_FACTOR * self.limit
        return {
            counter_key("pair", account, address): self.limit,
            counter_key("account", account): ceiling,
            counter_key("address", address): ceiling,
        }

    async def reserve(self, account: str, address: str, *, now: datetime) -> Reservation:
        """Count this attempt as a failure until the password proves otherwise.

        An attempt refused only because others are still awaiting their verdict (logins of
        one account from one address sent at once, right passwords among them) waits for
        them a little instead of being throttled: they may yet give their place back.
        """
        pair = counter_key("pair", account, address)
        if not await self._enter(pair):
            return Reservation((), (), retry_after=1)
        try:
            reservation = await self._reserve(account, address, now=now)
        except BaseException:
            self._leave(pair)
            raise
        if reservation.retry_after is not None:
            self._leave(pair)
            return reservation
        return Reservation(reservation.counts, reservation.cleared_on_success, gate=pair)

    async def _reserve(self, account: str, address: str, *, now: datetime) -> Reservation:
        limits = self._limits(account, address)
        waited, pause = 0.0, FIRST_PAUSE
        while True:
            counts = await login_attempts.count(
                self.database, list(limits), now=now, window=self.window
            )
            over = [found for found in counts.values() if found.failures > limits[found.key]]
            if not over:
                # A right password forgets its pair's failures; the ceilings get this one back.
                pair = counter_key("pair", account, address)
                return Reservation(tuple(counts.values()), (pair,))
            # Refused attempts get no verdict, so they are not failures: take them back.
            await login_attempts.release(self.database, counts.values())
            spent = [found for found in over if found.settled >= limits[found.key]]
            if spent:
                wait = max((found.window_ends_at - now).total_seconds() for found in spent)
                return Reservation((), (), retry_after=max(1, math.ceil(wait)))
            if waited >= MAX_QUEUE_SECONDS:
                return Reservation((), (), retry_after=1)
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(2 * pause, MAX_PAUSE)

    async def failed(self, reservation: Reservation) -> None:
        """The password was wrong: the attempt stays counted, its verdict known."""
        try:
            await login_attempts.settle(self.database, reservation.counts)
        finally:
            self._leave(reservation.gate)

    async def succeeded(self, reservation: Reservation) -> None:
        """The password was right: this attempt was no failure."""
        cleared = set(reservation.cleared_on_success)
        try:
            await login_attempts.release(
                self.database, [found for found in reservation.counts if found.key not in cleared]
            )
            await login_attempts.clear(self.database, cleared)
        finally:
            self._leave(reservation.gate)

    async def _enter(self, pair: bytes) -> bool:
        """Take one of this process's places for the pair; False if none came free in time."""
        gate = self._gates.get(pair)
        if gate is None:
            gate = self._gates[pair] = _Gate(asyncio.Semaphore(self.limit))
        gate.users += 1
        try:
            async with asyncio.timeout(MAX_QUEUE_SECONDS):  # wait_for may swallow a cancel
                await gate.places.acquire()
        except TimeoutError:
            self._drop(pair, gate)
            return False
        except BaseException:
            self._drop(pair, gate)
            raise
        return True

    def _leave(self, pair: bytes | None) -> None:
        gate = None if pair is None else self._gates.get(pair)
        if pair is None or gate is None:
            return
        gate.places.release()
        self._drop(pair, gate)

    def _drop(self, pair: bytes, gate: _Gate) -> None:
        gate.users -= 1
        if gate.users == 0:
            del self._gates[pair]
