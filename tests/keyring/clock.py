"""A clock the tests move by hand: the app's datetime clock, the verifier's float clock, and
PyJWT's monotonic one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import jwt.api_jwk
import jwt.jwk_set_cache
import jwt.jwks_client
import pytest

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


def drive_pyjwt(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    """PyJWT's PyJWKClient times its JWKS cache and its refetch cool-down with the `time`
    module; its modules read `clock` instead (the process's own `time` is left alone)."""
    stand_in = SimpleNamespace(monotonic=clock.timestamp)
    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", stand_in)
