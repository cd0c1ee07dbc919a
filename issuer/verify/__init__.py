"""Verify the issuer's access tokens in a resource server (RFC 9068).

Imports only the standard library, joserfc, httpx, `cryptography` (joserfc's own
dependency, used directly for signatures) and `issuer.jose`, the JOSE core it shares with
the issuer: a resource server installs the bare distribution, without the issuer's server
dependencies. The Litestar integration lives in `issuer.verify.litestar`.
"""

from issuer.jose.claims import AccessTokenClaims
from issuer.jose.errors import Reason, VerificationError

from ._cache import CachePolicy
from ._verifier import Verifier

__all__ = ["AccessTokenClaims", "CachePolicy", "Reason", "VerificationError", "Verifier"]
