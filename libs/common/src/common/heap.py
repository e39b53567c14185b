"""The heap a service keeps for its whole life, kept out of the garbage collector's way.

A started service holds a few hundred thousand objects that live as long as it does
(modules, FastAPI's and SQLAlchemy's machinery, pydantic's validators, the organisation).
CPython's oldest generation is collected by walking every one of them: under the
end-to-end load (bench.bench_end_to_end) each such pass stopped a service for 450-650 ms
on a busy machine, far longer than a lead may take to show. Frozen once the service has
started, they are left out of every later collection, which then walks only what the
service made since (the first pass 140-190 ms on the same machine, then 1-2 ms).

Only a service's own process freezes (``common.service.serve`` says so, for the HTTP
workers it starts too): a process that runs services in itself one after another, as the
tests do, would collect its whole heap, grown by every test before, at each start.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from common.service import ServiceRuntime


ENABLED_VARIABLE: Final = "LEADS_FREEZE_STARTUP_HEAP"


def enable_for_this_process() -> None:
    """This process (and the workers it starts) is a service's own: freeze at start."""
    os.environ[ENABLED_VARIABLE] = "1"


def freeze_startup_heap(runtime: ServiceRuntime) -> None:
    """Once ``runtime`` has started, what it made while starting is collected once and
    frozen; when it stops, unfrozen (a process running several services one after the
    other, as the tests do, would otherwise keep each one's garbage for good)."""
    runtime.on_start(_freeze)
    runtime.on_stop(_unfreeze)


async def _freeze() -> None:
    if os.environ.get(ENABLED_VARIABLE) != "1":
        return
    gc.collect()
    gc.freeze()


async def _unfreeze() -> None:
    gc.unfreeze()
