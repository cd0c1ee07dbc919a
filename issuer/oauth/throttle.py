"""Failed-login throttling: each attempt reserves its place *before* the password is checked.

The counters live in the database (`issuer.store.login_attempts`), so every process shares
one budget. An attempt is counted against each of its keys at once; if any counter is then
over its limit the attempt is refused without a verdict and its counts are taken back. A
correct password takes its attempt back as well (and clears what it was counted under), so
what remains counted is the failures. However many guesses arrive at once, in however many
processes, at most the limit of them get an answer about the password.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from issuer.store import login_attempts
from issuer.store.database import Database
from issuer.store.login_attempts import Count, counter_key

__all__ = ["LoginThrottle", "Reservation"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """One login attempt, counted; `retry_after` is set when it was refused."""

    counts: tuple[Count, ...]
    cleared_on_success: tuple[bytes, ...]
    retry_after: int | None = None


class LoginThrottle:
    """At most `limit` failed logins per account and per address within `window` seconds."""

    def __init__(self, database: Database, *, limit: int, window: float) -> None:
        self.database = database
        self.limit = limit
        self.window = window

    def _limits(self, account: str, address: str) -> dict[bytes, int]:
        return {
            counter_key("account", account): self.limit,
            counter_key("address", address): self.limit,
        }

    async def reserve(self, account: str, address: str, *, now: datetime) -> Reservation:
        """Count this attempt as a failure until the password proves otherwise."""
        limits = self._limits(account, address)
        counts = await login_attempts.count(
            self.database, list(limits), now=now, window=self.window
        )
        over = [found for found in counts.values() if found.failures > limits[found.key]]
        if over:
            # Refused attempts get no verdict, so they are not failures: take them back.
            await login_attempts.release(self.database, counts.values())
            wait = max((found.window_ends_at - now).total_seconds() for found in over)
            return Reservation((), (), retry_after=max(1, math.ceil(wait)))
        account_key = counter_key("account", account)
        return Reservation(tuple(counts.values()), (account_key,))

    async def succeeded(self, reservation: Reservation) -> None:
        """The password was right: this attempt was no failure."""
        cleared = set(reservation.cleared_on_success)
        await login_attempts.release(
            self.database, [found for found in reservation.counts if found.key not in cleared]
        )
        await login_attempts.clear(self.database, cleared)
