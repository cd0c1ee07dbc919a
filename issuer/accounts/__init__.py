"""Users (Argon2id passwords) and clients (generated secrets, stored as digests)."""
