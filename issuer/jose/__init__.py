"""The JOSE core both sides share: strict JWS parsing, signature checks with prepared keys,
RFC 9068 claim validation, the refusal reasons, and the signing algorithms.

`issuer.verify` (in resource servers) and the issuer's own key ring and token checks import
it; it imports only the standard library, `cryptography` and joserfc, never a server
module. As in joserfc, the package itself imports nothing and the modules are the public
fronts, each with its `__all__`: `algs` (the signing algorithms, defined once), `errors`,
`keys` (a JWK Set as prepared verification keys), `jws` (parse, verify_signature) and
`claims` (validate_claims). Private insides start with `_`; nothing outside this package
imports them.
"""

__all__: list[str] = []
