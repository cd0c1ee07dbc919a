"""A wheel built from the checkout installs, migrates and serves, away from the checkout.

The wheel is built without build isolation (hatchling is in the test extra) and installed
into fresh virtual environments with the ordinary installer, dependencies from the package
index; every command then runs in a directory that holds no checkout.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import PostgresDatabases, PostgresUnavailable
from tests.test_serve import clean_env, free_port

ROOT = Path(__file__).resolve().parents[1]


def run(*command: object, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=600,
        **options,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", dist, ROOT,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [path] = dist.glob("issuer-*.whl")
    return path


def venv_with(wheel: Path, requirement: str, directory: Path) -> Path:
    """A fresh virtual environment with `requirement` (the wheel, maybe with extras)."""
    created = run(sys.executable, "-m", "venv", directory)
    assert created.returncode == 0, created.stderr
    installed = run(directory / "bin" / "pip", "install", "-q", requirement)
    assert installed.returncode == 0, installed.stderr
    return directory / "bin" / "issuer"


@pytest.fixture(scope="module")
def server_install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return venv_with(wheel, f"{wheel}[server]", tmp_path_factory.mktemp("venv-server"))


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema: a file to be, or a new Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'issuer.db'}"
        return
    databases = PostgresDatabases()
    try:
        yield databases.create(migrated=False)
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        databases.drop_all()


def test_the_wheel_ships_the_migrations(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "issuer/migrations/env.py" in names
    assert "issuer/migrations/alembic.ini" in names
    shipped = {Path(name).name for name in names if name.startswith("issuer/migrations/versions/")}
    assert shipped == {path.name for path in (ROOT / "migrations" / "versions").glob("*.py")}
    assert not [name for name in names if "__pycache__" in name]
    # Templates, the stylesheet, py.typed: every data file of the package.
    data = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "issuer").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    assert data and data <= set(names), data - set(names)


def test_without_the_server_extra_serve_names_it_in_one_line(wheel: Path, tmp_path: Path) -> None:
    issuer = venv_with(wheel, str(wheel), tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run(issuer, "serve", cwd=elsewhere, env=clean_env())
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("issuer: error: ") and "[server]" in lines[0]
    assert list(elsewhere.iterdir()) == []


def test_the_installed_wheel_migrates_and_serves_elsewhere(
    server_install: Path, fresh_database: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = clean_env() | {
        "ISSUER_URL": f"http://127.0.0.1:{port}",
        "ISSUER_DATABASE_URL": fresh_database,
        "ISSUER_KEYS_DIR": str(tmp_path / "keys"),
    }
    migrated = run(server_install, "migrate", "--create-db-dir", cwd=elsewhere, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "newest revision" in migrated.stdout
    server = subprocess.Popen(
        [server_install, "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, ready = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        # The login pages' stylesheet comes from the installed package's data files.
        stylesheet = httpx.get(f"http://127.0.0.1:{port}/oauth/static/issuer.css", timeout=5)
        assert stylesheet.status_code == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode in (0, -15), output
    assert "Traceback" not in output
    # Nothing was written where the commands ran (the database is where the URL says).
    assert list(elsewhere.iterdir()) == []
