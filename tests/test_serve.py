"""`issuer serve` with nothing configured: SQLite + generated KEK, serving /healthz."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}


def test_serve_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "issuer", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, "issuer serve did not answer /healthz"
        assert ready.status_code == 200, ready.text
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    # uvicorn re-raises the SIGTERM it handled, after a clean shutdown.
    assert server.returncode in (0, -15), output
    # Logs are one JSON object per line (issuer.logs), uvicorn's included.
    [shutdown] = [line for line in output.splitlines() if "Application shutdown complete" in line]
    assert json.loads(shutdown)["logger"].startswith("uvicorn")
    # It says which database it serves: the file it created, by its absolute path.
    lines = output.splitlines()
    # Every line is one JSON object, but the migrate step's own line on standard output.
    records = [json.loads(line) for line in lines if not line.startswith("database is at")]
    assert len(records) == len(lines) - 1
    assert {r.get("database") for r in records} >= {f"SQLite file {tmp_path / 'issuer.db'}"}
    assert f"database is at the newest revision: SQLite file {tmp_path / 'issuer.db'}" in output
    kek = tmp_path / "keys" / "kek"
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert (tmp_path / "issuer.db").exists()
    assert "Traceback" not in output


def test_serve_defaults_to_127_0_0_1_8000() -> None:
    from issuer.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8000, 1)


def test_serve_with_a_bad_setting_prints_one_line(tmp_path: Path) -> None:
    env = clean_env() | {"ISSUER_DATABASE_URL": "mysql://nope"}
    result = subprocess.run(
        [sys.executable, "-m", "issuer", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("issuer: error: ISSUER_DATABASE_URL")
    assert len(result.stderr.strip().splitlines()) == 1
