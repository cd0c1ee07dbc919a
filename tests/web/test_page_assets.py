"""The hosted pages' templates and stylesheet ship with the package (setuptools package data;
a backend such as hatchling takes every file under issuer/ anyway)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import issuer

PACKAGE = Path(issuer.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def test_every_template_and_stylesheet_is_package_data() -> None:
    config = tomllib.loads(PYPROJECT.read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["issuer"]
    assets = [
        path.relative_to(PACKAGE).as_posix()
        for folder in ("templates", "static")
        for path in (PACKAGE / folder).iterdir()
    ]
    assert "templates/login.html" in assets and "static/issuer.css" in assets
    unshipped = [name for name in assets if not any(fnmatch(name, p) for p in patterns)]
    assert unshipped == []


def test_jinja2_is_a_server_dependency() -> None:
    config = tomllib.loads(PYPROJECT.read_text())
    server = config["project"]["optional-dependencies"]["server"]
    assert any(requirement.startswith("jinja2") for requirement in server)
