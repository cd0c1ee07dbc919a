"""The protocol core: grants, client authentication, minting, revocation, introspection.

Imports neither Litestar nor SQLAlchemy nor the ORM models: it calls the store's verbs and
the key ring.
"""
