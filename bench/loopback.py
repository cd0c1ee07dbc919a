"""HTTP to the servers under test, loopback only: requests, Basic auth, readiness, discovery
and the `/metrics` sums. (Not named `http`: `python bench/report.py` puts bench/ first on
sys.path, where it would shadow the standard library's package.)"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import BenchError, Unavailable
from bench.processes import tail

__all__ = [
    "Discovery",
    "basic",
    "discover",
    "http",
    "metric_sum",
    "token_response",
    "wait_http_ok",
]


def http(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    host = urllib.parse.urlsplit(url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise BenchError(f"refusing a non-loopback URL: {url}")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body: bytes = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, body
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def basic(client_id: str, secret: str) -> str:
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def wait_http_ok(
    url: str, proc: subprocess.Popen[bytes], logfile: Path, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"{what} exited with code {proc.returncode} before it was ready; "
                f"last lines of its log:\n{tail(logfile)}"
            )
        try:
            status, _, body = http("GET", url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status} {body[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BenchError(
        f"{what} was not ready at {url} within {timeout:.0f} s ({last}); "
        f"last lines of its log:\n{tail(logfile)}"
    )


class Discovery:
    """A server's `/.well-known/openid-configuration`."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def endpoint(self, key: str) -> str:
        """The URL under `key`; `Unavailable` when the server does not name one."""
        v = self.doc.get(key)
        if not v:
            raise Unavailable(f"discovery has no {key}")
        return str(v)


def discover(base: str) -> Discovery:
    status, _, body = http("GET", base + "/.well-known/openid-configuration")
    if status != 200:
        raise BenchError(f"GET {base}/.well-known/openid-configuration answered {status}")
    try:
        return Discovery(dict(json.loads(body)))
    except ValueError as exc:
        raise BenchError("discovery document is not JSON") from exc


def metric_sum(base: str, needle: str) -> float | None:
    """The sum of every `/metrics` series whose name contains `needle`; None when none."""
    try:
        status, _, body = http("GET", base + "/metrics", timeout=10)
    except (OSError, urllib.error.URLError):
        return None
    if status != 200:
        return None
    total, seen = 0.0, False
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("#") or needle not in line.split("{")[0].split(" ")[0]:
            continue
        if line.split("{")[0].split(" ")[0].endswith("_created"):
            continue
        with contextlib.suppress(ValueError, IndexError):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def token_response(url: str, auth: str, form: dict[str, str]) -> dict[str, Any]:
    """POST the token endpoint; the JSON of a 200, else a `BenchError` saying what it said."""
    status, _, body = http("POST", url, form=form, headers={"Authorization": auth})
    if status != 200:
        raise BenchError(
            f"{form.get('grant_type')} at the token endpoint answered {status}: {body[:300]!r}"
        )
    return dict(json.loads(body))
