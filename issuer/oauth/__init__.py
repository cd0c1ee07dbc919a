"""The protocol core: grants, client authentication, minting, revocation, introspection.

Imports neither Litestar nor SQL; it calls the store's verbs and the key ring.
"""
