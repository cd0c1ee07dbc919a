"""issuer: an OIDC-style token issuer.

The top-level package imports nothing: `issuer.verify` must stay importable with only
joserfc and httpx installed, so server modules are imported where they are used.
"""

__all__: list[str] = []
__version__ = "0.1.0"
