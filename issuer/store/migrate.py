"""`issuer migrate`: Alembic upgrade to head, programmatically, idempotent.

Two processes may migrate at once (say, two `issuer serve` starting together): on Postgres
env.py takes an advisory lock; on SQLite a file lock beside the database file.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]


def _migrations_dir() -> Path:
    """issuer/migrations in an installed wheel, else the checkout's top-level migrations/."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(f"no Alembic migrations beside {package}")


MIGRATIONS_DIR = _migrations_dir()


def alembic_config(database_url: str, *, pooling: str = "session") -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["database_pooling"] = pooling
    return config


@contextlib.contextmanager
def _sqlite_file_lock(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    # The directory must exist: `issuer migrate` refuses a missing one unless asked to
    # create it (--create-db-dir), so that a typo does not start an empty issuer elsewhere.
    lock_path = Path(url.database).with_name(Path(url.database).name + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(database_url: str, *, pooling: str = "session") -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    with _sqlite_file_lock(database_url):
        command.upgrade(alembic_config(database_url, pooling=pooling), "head")
