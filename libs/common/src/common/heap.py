"""The heap a service keeps for its whole life, kept out of the garbage collector's way.

A started service holds a few hundred thousand objects that live as long as it does
(modules, FastAPI's and SQLAlchemy's machinery, pydantic's validators, the organisation).
CPython's oldest generation is collected by walking every one of them: under the
end-to-end load (bench.bench_end_to_end) each such pass stopped a service for 450-650 ms
on a busy machine, far longer than a lead may take to show. Frozen once the service has
started, they are left out of every later collection, which then walks only what the
service made since (the first pass 140-190 ms on the same machine, then 1-2 ms).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.service import ServiceRuntime


def freeze_startup_heap(runtime: ServiceRuntime) -> None:
    """Once ``runtime`` has started, what it made while starting is collected once and
    frozen; when it stops, unfrozen (a process running several services one after the
    other, as the tests do, would otherwise keep each one's garbage for good)."""
    runtime.on_start(_freeze)
    runtime.on_stop(_unfreeze)


async def _freeze() -> None:
    gc.collect()
    gc.freeze()


async def _unfreeze() -> None:
    gc.unfreeze()
