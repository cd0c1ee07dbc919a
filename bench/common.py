"""What every part of the harness shares: its paths, the fixtures' audience and scope, the
one expected-failure exception and the log line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = [
    "AUDIENCE",
    "CODE_SCOPE",
    "HERE",
    "LUA",
    "PEER_DIR",
    "PEER_SRC",
    "REDIRECT_URI",
    "REPO",
    "RESULTS",
    "SCOPE",
    "BenchError",
    "Unavailable",
    "log",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "lua" / "bench.lua"
PEER_DIR = HERE / ".peer"
PEER_SRC = REPO.parent / "shared" / "peer"  # ../shared/peer from the repo root
RESULTS = HERE / "results"

AUDIENCE = "urn:bench:api"
SCOPE = "api"
# The code flow: the redirect URI the peer's public client "bench-spa" registers (port 9,
# discard: nothing listens, the 302's Location is read, never followed) and the scope asked
# for (an ID token and an access token for AUDIENCE on both servers, no refresh token).
REDIRECT_URI = "http://127.0.0.1:9/cb"
CODE_SCOPE = f"openid {SCOPE}"


class BenchError(Exception):
    """A clear, expected failure: printed without a traceback."""


class Unavailable(BenchError):
    """The piece a scenario measures is not there (e.g. discovery names no such endpoint)."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
