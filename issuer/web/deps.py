"""Dependency injection in one place."""

from __future__ import annotations

from typing import TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from issuer.runtime import Runtime as _Runtime

__all__ = ["DEPENDENCIES", "RuntimeDep", "provide_runtime"]

# Handlers annotate `runtime: RuntimeDep` to receive the process's Runtime.
RuntimeDep: TypeAlias = NamedDependency[_Runtime]


def provide_runtime(state: State) -> _Runtime:
    runtime: _Runtime = state.runtime
    return runtime


DEPENDENCIES = {"runtime": Provide(provide_runtime, sync_to_thread=False)}
