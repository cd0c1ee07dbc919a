"""A live `issuer serve` on a free loopback port, for tests whose behaviour is real HTTP.

The README walkthrough (tests/test_readme.py), the real-browser tests (tests/e2e/) and the
example apps run against one of these: the same `python -m issuer serve` a reader starts, on
the database the test's `database_url` fixture made, with the CLI reaching the same database
and keys through `LiveIssuer.cli`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.test_serve import clean_env, free_port

# `issuer.cli.main` once per command, each with its own stdin and captured stdout.
_CLI_MANY = """
import contextlib, io, json, sys
from issuer.cli import main
outputs = []
for argv, stdin in json.load(sys.stdin):
    sys.stdin, stdout = io.StringIO(stdin or ""), io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    if code:
        sys.exit(f"issuer {' '.join(argv)}: exit {code}")
    outputs.append(stdout.getvalue())
print(json.dumps(outputs))
"""


@dataclass(frozen=True)
class LiveIssuer:
    url: str
    env: dict[str, str]
    workdir: Path

    def cli_many(self, *commands: tuple[Sequence[str], str | None]) -> list[str]:
        """Several `issuer` commands (arguments, standard input) in one process; their stdouts.

        Each start of the CLI imports the server stack, seconds on a loaded machine."""
        result = subprocess.run(
            [sys.executable, "-c", _CLI_MANY],
            cwd=self.workdir,
            env=self.env,
            input=json.dumps([[list(args), stdin] for args, stdin in commands]),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        outputs: list[str] = json.loads(result.stdout)
        return outputs

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """`issuer ARGS…` against this server's database and keys; its stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "issuer", *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"issuer {' '.join(args)}: {result.stderr}"
        return result.stdout


def wait_until_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60) -> None:
    """Polls `url` until it answers 200; fails with the process's output if it died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[0].decode()
        assert time.monotonic() < deadline, f"{url} did not become ready"
        time.sleep(0.2)


@contextmanager
def background(
    command: Sequence[str], *, ready_url: str, cwd: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, ready once `ready_url` answers 200; terminated on exit."""
    process = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ready(ready_url, process)
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=30)


@contextmanager
def serve_issuer(database_url: str, tmp_path: Path, **settings: str) -> Iterator[LiveIssuer]:
    """`issuer serve` on a free port, its keys under tmp_path, extra ISSUER_* settings given."""
    port = free_port()
    workdir = tmp_path / "checkout"
    workdir.mkdir(exist_ok=True)
    env = clean_env() | {
        "ISSUER_URL": f"http://127.0.0.1:{port}",
        "ISSUER_DATABASE_URL": database_url,
        "ISSUER_KEYS_DIR": str(tmp_path / "keys"),
        **settings,
    }
    command = [sys.executable, "-m", "issuer", "serve", "--port", str(port)]
    with background(command, ready_url=f"{env['ISSUER_URL']}/readyz", cwd=workdir, env=env):
        yield LiveIssuer(url=env["ISSUER_URL"], env=env, workdir=workdir)
