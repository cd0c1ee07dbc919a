"""The run's options, parsed once by harness.py into a frozen, typed record."""

from __future__ import annotations

from dataclasses import dataclass

from issuer.jose.algs import SIGNING_ALGS

__all__ = ["ALGS", "Options"]

ALGS: tuple[str, ...] = SIGNING_ALGS


@dataclass(frozen=True)
class Options:
    sqlite: bool
    worker_list: list[int]
    secs: float
    warmup: float
    conns: int
    scenarios: list[str]
    algs: list[str]
    peer_only: bool
    no_peer: bool
    no_p80: bool
    peer_p80: bool
    limit_secs: int
    server_cpus: str
    load_cpu: str
    pg_host: str
    pg_port: int
    pg_user: str
    peer_port: int
    no_plot: bool
    python: str  # the interpreter that runs the issuer CLI and the in-process rates

    @property
    def wants_argon2(self) -> bool:
        return "password" in self.scenarios
