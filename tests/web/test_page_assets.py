"""The hosted pages' templates and stylesheet ship in the wheel (hatchling takes every file
under issuer/), and jinja2 comes with the server extra."""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import issuer
from tests.test_wheel import wheel

__all__ = ["wheel"]  # the module-scoped fixture that builds the wheel once

PACKAGE = Path(issuer.__file__).parent


def test_the_wheel_ships_every_template_and_the_stylesheet(wheel: Path) -> None:
    assets = {
        f"issuer/{path.relative_to(PACKAGE).as_posix()}"
        for folder in ("templates", "static")
        for path in (PACKAGE / folder).iterdir()
    }
    assert {"issuer/templates/login.html", "issuer/static/issuer.css"} <= assets
    assert assets <= set(zipfile.ZipFile(wheel).namelist())


def test_jinja2_is_a_server_dependency() -> None:
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    server = config["project"]["optional-dependencies"]["server"]
    assert any(requirement.startswith("jinja2") for requirement in server)
