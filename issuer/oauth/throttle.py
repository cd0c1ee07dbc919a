"""Failed-login throttling: a sliding window per key (account, address), per process.

DESIGN allows a per-process counter here; with N processes an attacker gets at most N times
the budget. A shared store (Redis) is the upgrade when that is not good enough.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most `limit` failures per key within `window` seconds; times are passed in."""

    def __init__(self, *, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds until `key` may try again, or None if it may now."""
        failures = self._recent(key, now)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._prune(now)
        failures = self._failures.setdefault(key, deque())
        failures.append(now)
        while len(failures) > self.limit:
            failures.popleft()

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self._max_keys:
            # Still full of live keys: forget the oldest half rather than grow without bound.
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]
