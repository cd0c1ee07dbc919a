"""issuer.verify must install and import without the server's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_ONLY = ("sqlalchemy", "argon2", "litestar", "asyncpg", "aiosqlite", "alembic")


def test_importing_verify_loads_no_server_dependency() -> None:
    code = (
        "import json, sys, issuer.verify; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(SERVER_ONLY), loaded & set(SERVER_ONLY)


def test_public_names_are_explicit() -> None:
    import issuer.verify

    assert sorted(issuer.verify.__all__) == [
        "AccessTokenClaims",
        "CachePolicy",
        "Reason",
        "VerificationError",
        "Verifier",
    ]
