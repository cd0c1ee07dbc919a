"""The README is copy-paste correct: its `sh` blocks run, top to bottom, against a live issuer.

Every fenced block tagged `sh` in the README is a script a reader pastes into a shell in the
repository's directory; synopses are tagged `text`. Each block runs in a fresh bash (so each
must set what it uses), in README order, against one `issuer serve` on a free port whose URL
and database the blocks reach through `ISSUER_URL` and `ISSUER_DATABASE_URL`, as a reader's
shell would after the server has started. The blocks that start the server or the test suite
themselves (in "Start here") are the ones this test cannot run inside itself; they are named
in `NOT_RUN` and exercised elsewhere (tests/test_serve.py, CI).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import serve_issuer

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The first line of each block that cannot run inside the suite: starting the server, the
# suite itself.
NOT_RUN = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[server]' && .venv/bin/issuer serve",
    "tests/run",
)


def shell_blocks(text: str) -> list[str]:
    """The README's `sh` blocks, in order."""
    return [body for lang, body in _FENCE.findall(text) if lang == "sh"]


def runnable_blocks() -> list[str]:
    return [block for block in shell_blocks(README.read_text()) if not block.startswith(NOT_RUN)]


def test_every_fence_says_what_it_is() -> None:
    """An untagged fence would silently escape this test."""
    tags = [lang for lang, _ in _FENCE.findall(README.read_text())]
    assert tags, "no fenced blocks found"
    assert "" not in tags, "tag every fenced block (sh, text, python, …)"


def test_the_start_here_blocks_are_the_ones_not_run() -> None:
    skipped = [b for b in shell_blocks(README.read_text()) if b.startswith(NOT_RUN)]
    assert len(skipped) == len(NOT_RUN)


@pytest.fixture
def live_issuer(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """`issuer serve` on a free port; the environment a reader's shell would have."""
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    # The README's commands use .venv/bin/…; this test's interpreter is that venv.
    (workdir / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (workdir / "examples").symlink_to(README.parent / "examples", target_is_directory=True)
    with serve_issuer(database_url, tmp_path) as issuer:
        yield issuer.env | {"PWD": str(issuer.workdir)}


def test_readme_shell_blocks_run_top_to_bottom(live_issuer: dict[str, str]) -> None:
    blocks = runnable_blocks()
    assert len(blocks) >= 3, "the README lost its walkthrough"
    for number, block in enumerate(blocks, 1):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=live_issuer["PWD"],
            env=live_issuer | {"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (
            f"README sh block {number} failed ({result.returncode}):\n{block}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        # A curl that got an error still exits 0 without --fail: the blocks use -f.
        assert "error" not in result.stderr.lower(), result.stderr
