"""How web code reaches the process's Runtime: one function, `runtime_of`.

Litestar handlers receive it as a parameter (`runtime: RuntimeDep`, resolved by
`runtime_of`); the bare-ASGI paths, which have no dependency injection (protocol endpoints,
the JWKS before routing), call `runtime_of` themselves and pass on what the code below
them needs. No other web code reads the app state.
"""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency, Provide
from litestar.types import Scope

from issuer.runtime import Runtime as _Runtime

__all__ = ["DEPENDENCIES", "RuntimeDep", "runtime_of"]

# Handlers annotate `runtime: RuntimeDep` to receive the process's Runtime.
RuntimeDep: TypeAlias = NamedDependency[_Runtime]


def runtime_of(scope: Scope) -> _Runtime:
    """The Runtime `create_app` put in the app state."""
    runtime: _Runtime = scope["litestar_app"].state.runtime
    return runtime


DEPENDENCIES = {"runtime": Provide(runtime_of, sync_to_thread=False)}
