"""The bare distribution (issuer.verify and the JOSE core it shares with the server,
issuer.jose) must install and import without the server's dependencies, and private
modules stay private to their package."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SERVER_ONLY = (
    "sqlalchemy",
    "argon2",
    "litestar",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "msgspec",
    "prometheus_client",
    "uvicorn",
)
# What of the issuer's own code each package may load, and which third-party packages it
# must not: issuer.jose is the core of both sides, so it needs no HTTP client either.
BOUNDARIES = {
    "issuer.verify": ({"issuer", "issuer.jose", "issuer.verify"}, set(SERVER_ONLY)),
    "issuer.jose": ({"issuer", "issuer.jose"}, {*SERVER_ONLY, "httpx"}),
}
# The Litestar integration is the one module that imports Litestar, on purpose.
OPTIONAL_EXTRAS = {"issuer.verify.litestar"}
ROOT = Path(__file__).resolve().parents[2]

_LOAD_EVERY_MODULE = """
import importlib, json, pkgutil, sys
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if module.name not in {extras!r}:
        importlib.import_module(module.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("package", sorted(BOUNDARIES))
def test_importing_the_bare_distribution_loads_no_server_dependency(package: str) -> None:
    code = _LOAD_EVERY_MODULE.format(package=package, extras=OPTIONAL_EXTRAS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    own, forbidden = BOUNDARIES[package]
    assert {name.split(".")[0] for name in loaded} & forbidden == set()
    issuer_modules = {name for name in loaded if name.split(".")[0] == "issuer"}
    assert {name for name in issuer_modules if ".".join(name.split(".")[:2]) not in own} == set()


def _imported_modules(path: Path, module: str) -> set[str]:
    """Every module (or module member) the file names in an import, resolved absolutely."""
    names: set[str] = set()
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _private_owner(name: str) -> str | None:
    """`issuer.verify._cache.KeyCache` -> `issuer.verify`: the package a private name is in."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def test_private_modules_are_imported_only_inside_their_own_package() -> None:
    """Public fronts over private insides (joserfc's layout): `issuer.verify._jws` and
    `issuer.jose._segments` are nobody else's business. Tests may read the insides of the
    package they mirror (tests/jose for issuer/jose)."""
    offenders = []
    paths = [path for top in ("issuer", "tests", "bench") for path in ROOT.glob(f"{top}/**/*.py")]
    for path in sorted(paths):
        relative = path.relative_to(ROOT)
        module = ".".join(relative.with_suffix("").parts)
        if relative.parts[0] == "tests":
            home = ".".join(("issuer", *relative.parts[1:-1]))
        else:
            home = module
        for name in _imported_modules(path, module):
            owner = _private_owner(name)
            inside = f"{home}.".startswith(f"{owner}.")
            if owner and f"{owner}.".startswith("issuer.") and not inside:
                offenders.append(f"{relative}: {name}")
    assert offenders == []


def test_public_names_are_explicit() -> None:
    import issuer.verify

    assert sorted(issuer.verify.__all__) == [
        "AccessTokenClaims",
        "CachePolicy",
        "Reason",
        "VerificationError",
        "Verifier",
    ]
