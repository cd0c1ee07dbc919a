"""The signing algorithms, defined once: the issuer signs with them, verifiers accept them.

Settings, key generation, the key ring, the verifier's allow-list and the CLI derive their
lists from here; nothing else spells an alg list out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal, NamedTuple, get_args

__all__ = [
    "ALGS",
    "ALG_KEY_TYPES",
    "JWS_ALGS",
    "SIGNING_ALGS",
    "Alg",
    "SigningAlg",
    "with_aliases",
]

SigningAlg = Literal["RS256", "EdDSA"]
"""A signing alg of the issuer: what keys are generated, rotated and configured for."""
SIGNING_ALGS: tuple[SigningAlg, ...] = get_args(SigningAlg)


class Alg(NamedTuple):
    """The key a signing alg needs, and the header `alg` names that mean it."""

    kty: str
    crv: str | None
    names: tuple[str, ...]


ALGS: Mapping[str, Alg] = MappingProxyType(
    {
        # RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256.
        "RS256": Alg("RSA", None, ("RS256",)),
        # RFC 8037 §3.1 over Ed25519. RFC 9864 §2 names the same signature `Ed25519` and
        # deprecates `EdDSA`, which most verifiers still know alone: a header may say either.
        "EdDSA": Alg("OKP", "Ed25519", ("EdDSA", "Ed25519")),
    }
)

ALG_KEY_TYPES: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {name: (alg.kty, alg.crv) for alg in ALGS.values() for name in alg.names}
)
"""Header `alg` -> the (kty, crv) a key must have to verify it."""
JWS_ALGS: frozenset[str] = frozenset(ALG_KEY_TYPES)
"""Every header `alg` a token of the issuer may carry."""
_SAME: Mapping[str, frozenset[str]] = MappingProxyType(
    {name: frozenset(alg.names) for alg in ALGS.values() for name in alg.names}
)


def with_aliases(names: Iterable[str]) -> frozenset[str]:
    """The header names that mean the algs named: allowing `EdDSA` allows `Ed25519` and back.

    Names outside `JWS_ALGS` are dropped.
    """
    return frozenset(same for name in names if name in _SAME for same in _SAME[name])
