"""The key ring: signing keys, their encryption at rest, lifecycle and the JWKS document."""
