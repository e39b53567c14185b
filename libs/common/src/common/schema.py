"""A service's database schema through its life: its own tables migrated and its read
models' versions prepared before anything consumes; a read model being rebuilt switched to
when it caught up; versions retired long enough dropped.

A composition root calls :func:`manage_schema` once; ``python -m <service> migrate`` runs
:func:`common.migrations.upgrade` alone (a Kubernetes Job before the rollout, if wanted).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import structlog

from common.migrations import upgrade
from common.projection import Projection
from common.readmodels import RETIRE_AFTER_SECONDS, ReadModels
from common.service import ServiceRuntime
from common.subjects import Stream

log = structlog.get_logger(__name__)

# How often retired read-model versions are looked for (and dropped once due).
DROP_CHECK_SECONDS: Final = 300.0


class ManagedSchema:
    """What :func:`manage_schema` installed: the read models once prepared."""

    def __init__(self, runtime: ServiceRuntime, package: str, retire_after: float) -> None:
        self.runtime = runtime
        self.package = package
        self.retire_after = retire_after
        self.read_models: ReadModels | None = None
        self._switches: list[asyncio.Task[None]] = []

    def projections(self) -> list[Projection]:
        found: dict[str, Projection] = {}
        for sub in self.runtime.subscriptions:
            found.setdefault(sub.projection.name, sub.projection)
        return list(found.values())

    def streams_of(self, projection: Projection) -> list[Stream]:
        return [s.stream for s in self.runtime.subscriptions if s.projection is projection]

    async def prepare(self) -> None:
        engine = self.runtime.database.sync_engine
        revisions = await asyncio.to_thread(upgrade, engine, self.package)
        log.info("schema_at", package=self.package, revision=revisions.after)
        self.read_models = ReadModels(engine, self.projections(), self.retire_after)
        states = await asyncio.to_thread(self.read_models.prepare)
        log.info("read_models_prepared", states=states)

    async def start(self) -> None:
        models = self.read_models
        if models is None:
            return
        for projection in self.projections():
            if models.serving(projection.name):
                continue
            streams = [s.value for s in self.streams_of(projection)]
            self._switches.append(
                asyncio.create_task(
                    models.switch_when_caught_up(projection, streams, self._last_sequence),
                    name=f"read-model-switch:{projection.name}",
                )
            )

    async def stop(self) -> None:
        for task in self._switches:
            task.cancel()
        for task in self._switches:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._switches.clear()

    async def _last_sequence(self, stream: str) -> int:
        info = await self.runtime.js.stream_info(stream)
        return int(info.state.last_seq or 0)

    async def drop_retired(self) -> None:
        if self.read_models is not None:
            await asyncio.to_thread(self.read_models.drop_retired)

    def problems(self) -> dict[str, str]:
        return self.read_models.problems() if self.read_models is not None else {}


def manage_schema(
    runtime: ServiceRuntime, package: str, retire_after: float = RETIRE_AFTER_SECONDS
) -> ManagedSchema:
    """Before any consumer starts, migrate ``package``'s own tables (``<package>.migrations``)
    and prepare the read models of every projection the runtime feeds; once running, switch
    to a read model rebuilt beside the old one when it caught up, and drop retired ones.
    Call it before registering other prepare hooks that need the tables."""
    managed = ManagedSchema(runtime, package, retire_after)
    runtime.on_prepare(managed.prepare)
    runtime.on_start(managed.start)
    runtime.on_stop(managed.stop)
    runtime.every(DROP_CHECK_SECONDS, managed.drop_retired, "read-model-retirement")
    runtime.app.state.schema = managed
    # A replica whose read model is still being built must not be sent reads.
    runtime.readiness_checks.append(managed.problems)
    return managed
