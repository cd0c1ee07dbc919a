"""A clock the tests move by hand: the app's datetime clock and the verifier's float clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
