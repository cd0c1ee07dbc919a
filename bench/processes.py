"""Starting and stopping what the harness runs: long-lived processes in their own process
groups, bounded one-shot commands, and a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

from bench.common import BenchError

__all__ = ["PROCS", "Procs", "free_port", "raise_on_signals", "run", "tail"]


class Procs:
    """Every long-lived process the harness starts, in its own process group."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, cmd: list[str], *, env: dict[str, str], cwd: Path | None, logfile: Path
    ) -> subprocess.Popen[bytes]:
        fh = logfile.open("wb")
        p = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        fh.close()
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], grace: float = 8.0) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        # the group may hold children (uvicorn workers) even after the leader exited
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p, grace=3)


PROCS = Procs()


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def raise_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP unwind through the `finally` that stops everything."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def run(
    cmd: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            env=env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`{' '.join(cmd[:4])} ...` did not finish in {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise BenchError(f"`{cmd[0]}` not found") from exc


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines[-n:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
