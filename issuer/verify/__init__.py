"""Verify the issuer's access tokens in a resource server (RFC 9068).

Imports only the standard library, joserfc, httpx and `cryptography` (joserfc's own
dependency, used directly for signatures): a resource server installs the bare
distribution, without the issuer's server dependencies. The Litestar integration lives in
`issuer.verify.litestar`.
"""

from ._cache import CachePolicy
from ._claims import AccessTokenClaims
from ._errors import Reason, VerificationError
from ._verifier import Verifier

__all__ = ["AccessTokenClaims", "CachePolicy", "Reason", "VerificationError", "Verifier"]
