"""`issuer serve` as a real process, for behaviours that only exist over real sockets:
lost responses, slow clients, signals."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from issuer.settings import Settings
from tests.test_serve import clean_env, free_port

__all__ = ["Served", "issuer_serve", "wait_ready"]


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


@asynccontextmanager
async def issuer_serve(
    settings: Settings, directory: Path, *, workers: int = 1, **env: object
) -> AsyncIterator[Served]:
    """`issuer serve` on a free loopback port with `settings`' database and KEK (and any
    further ISSUER_* in `env`), ready when this yields; stopped with SIGTERM afterwards."""
    port = free_port()
    environ = clean_env() | {
        "ISSUER_URL": f"http://127.0.0.1:{port}",
        "ISSUER_DATABASE_URL": settings.database_url,
        "ISSUER_KEK": base64.urlsafe_b64encode(settings.kek or b"").rstrip(b"=").decode(),
        "ISSUER_KEYS_DIR": str(directory / "keys"),
    }
    environ.update({name: str(value) for name, value in env.items()})
    command = [sys.executable, "-m", "issuer", "serve", "--port", str(port)]
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        [*command, "--workers", str(workers)],
        cwd=directory,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = Served(process, port)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            await wait_ready(http)
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output, output
