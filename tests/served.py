"""`issuer serve` as a real process, for behaviours that only exist over real sockets:
lost responses, slow clients, signals."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from issuer.settings import Settings
from tests.test_serve import clean_env, free_port

__all__ = ["Served", "issuer_serve", "issuer_serving", "start", "stop", "wait_ready"]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(150):
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("issuer serve did not become ready")


def start(settings: Settings, directory: Path, *, workers: int = 1, **env: object) -> Served:
    """`issuer serve` on a free loopback port with `settings`' database and KEK (and any
    further ISSUER_* in `env`); not yet ready."""
    port = free_port()
    environ = clean_env() | {
        "ISSUER_URL": f"http://127.0.0.1:{port}",
        "ISSUER_DATABASE_URL": settings.database_url,
        "ISSUER_KEK": base64.urlsafe_b64encode(settings.kek or b"").rstrip(b"=").decode(),
        "ISSUER_KEYS_DIR": str(directory / "keys"),
    }
    environ.update({name: str(value) for name, value in env.items()})
    command = [sys.executable, "-m", "issuer", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=directory,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return Served(process, port)


def stop(served: Served) -> None:
    """SIGTERM (unless it has exited already); its output must hold no traceback."""
    if served.process.poll() is None:
        served.process.terminate()
    output = served.process.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output


@contextmanager
def issuer_serving(
    settings: Settings, directory: Path, *, workers: int = 1, **env: object
) -> Iterator[Served]:
    """`start`, ready when this yields (for synchronous tests and fixtures); then `stop`."""
    served = start(settings, directory, workers=workers, **env)
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{served.url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("issuer serve did not become ready")
        yield served
    finally:
        stop(served)


@asynccontextmanager
async def issuer_serve(
    settings: Settings, directory: Path, *, workers: int = 1, **env: object
) -> AsyncIterator[Served]:
    """`start`, ready when this yields; then `stop`."""
    served = start(settings, directory, workers=workers, **env)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            await wait_ready(http)
        yield served
    finally:
        stop(served)
