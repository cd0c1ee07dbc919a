"""Litestar controllers: parse, call the core, serialise. Nothing else."""
