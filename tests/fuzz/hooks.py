"""schemathesis hooks for the fuzz run (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): an admin token
that stays valid, fetched with the admin client's credentials from the environment
(FUZZ_ISSUER_URL, FUZZ_ADMIN_CLIENT, FUZZ_ADMIN_SECRET) and fetched again after any 401."""

from __future__ import annotations

import os
from typing import Any

import httpx
import schemathesis

from issuer.web.admin.guard import ADMIN_SCOPE


@schemathesis.auth()
class AdminToken:
    def get(self, case: Any, context: Any) -> str:
        response = httpx.post(
            f"{os.environ['FUZZ_ISSUER_URL']}/oauth/token",
            data={"grant_type": "client_credentials", "scope": ADMIN_SCOPE},
            auth=(os.environ["FUZZ_ADMIN_CLIENT"], os.environ["FUZZ_ADMIN_SECRET"]),
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Not the admin client itself: disabled, deleted or given a new secret, it could no
    longer fetch the token (the fuzzer learns its id from GET /admin/clients)."""
    admin = os.environ["FUZZ_ADMIN_CLIENT"]
    return bool((case.path_parameters or {}).get("client_id") != admin)
