"""The suite under test: nats-server and the three services as processes, started by the
same pieces as ``make run`` (leadctl.embedded), in a directory of their own on free ports;
and the blows a chaos run deals them (SIGKILL, a broker killed under load, a locked
database)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from common.natsserver import NatsServer, free_port
from leadctl import operations
from leadctl.embedded import (
    Layout,
    keep_private,
    load_or_make_secrets,
    seed_demo_users,
    service_env,
    start_service,
    stop_service,
)
from leadctl.provision import provision

SERVICES: Final = tuple(s.value for s in operations.SERVICES)

# The run measures what survives faults, not intake's defence against floods: the public
# proof of work is made cheap, and its price is not raised for the run's own steady rate.
CHAOS_SETTINGS: Final = {
    "INTAKE_WORK_BITS_REPORT": "4",
    "INTAKE_WORK_BITS_RECEIPT": "4",
    "INTAKE_USUAL_PUBLIC_REPORTS_PER_HOUR": "1000000",
}


class NotReady(Exception):
    """A process did not come (back) up in time, or exited."""


@dataclass(frozen=True)
class Exit:
    """A service that exited without being killed by the run."""

    service: str
    code: int
    at: float  # time.monotonic()


class KillableNats(NatsServer):
    """The embedded nats-server, which the run may also kill without warning."""

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self.stop()


class Suite:
    def __init__(self, root: Path, nats_config: Path) -> None:
        self.layout = Layout(root)
        self.ports = {name: free_port() for name in SERVICES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.secrets: dict[str, str] = {}
        self.exits: list[Exit] = []
        self.supervising = False
        self._killed: set[str] = set()  # down on purpose, until the run starts it again
        self.server = KillableNats(
            root / "nats", config=nats_config, log_file=self.layout.logs / "nats.log"
        )

    @property
    def nats_url(self) -> str:
        return self.server.url

    @property
    def admin_password(self) -> str:
        return self.secrets["NATS_ADMIN_PASSWORD"]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def database_url(self, service: str) -> str:
        return f"sqlite:///{self.layout.database(service)}"

    async def start(self, ready_timeout: float) -> None:
        root = self.layout.root
        keep_private(root)
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        self.secrets = load_or_make_secrets(self.layout.secrets)
        seed_demo_users(self.layout)
        # The passwords of auth.conf come from the environment.
        self.server.env = self.secrets
        self.server.start()
        await provision([self.server.url], "admin", self.admin_password)
        for name in SERVICES:
            self.start_service(name)
        await self.wait_ready(SERVICES, ready_timeout)

    def start_service(self, name: str) -> None:
        env = {
            **service_env(name, self.ports[name], self.layout, self.nats_url, self.secrets),
            **CHAOS_SETTINGS,
        }
        self.processes[name] = start_service(name, env, self.layout)
        self._killed.discard(name)

    def kill_service(self, name: str) -> None:
        """SIGKILL to the service's whole session (it started one of its own)."""
        process = self.processes[name]
        self._killed.add(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    async def supervise(self, interval: float = 0.5) -> None:
        """Start a service again when it exits by itself, as the deployment's process
        manager would (compose's ``restart: unless-stopped``, a Kubernetes pod), so that one
        such exit does not spoil the rest of the run; each is recorded, and fails the run:
        ``make run`` has no such manager, and a service should not give up by itself."""
        self.supervising = True
        try:
            while True:
                for name, process in list(self.processes.items()):
                    if name not in self._killed and process.poll() is not None:
                        self.exits.append(Exit(name, process.returncode, time.monotonic()))
                        self.start_service(name)
                # The poll interval of a process manager.
                await asyncio.sleep(interval)
        finally:
            self.supervising = False

    def kill_nats(self) -> None:
        self.server.kill()

    def start_nats(self) -> None:
        self.server.start()  # the same port and store

    async def wait_ready(self, names: tuple[str, ...], timeout: float) -> float:
        """Until every named service answers /readyz with 200; returns the seconds taken."""
        started = time.monotonic()
        waiting = set(names)
        async with httpx.AsyncClient(timeout=2.0) as client:
            while waiting:
                for name in sorted(waiting):
                    process = self.processes[name]
                    if process.poll() is not None and not self.supervising:
                        raise NotReady(
                            f"{name} exited with code {process.returncode}; "
                            f"see {self.layout.logs / (name + '.log')}"
                        )
                    try:
                        answer = await client.get(f"{self.url(name)}/readyz")
                    except httpx.HTTPError:
                        continue
                    if answer.status_code == 200:
                        waiting.discard(name)
                if waiting and time.monotonic() - started > timeout:
                    raise NotReady(
                        f"{', '.join(sorted(waiting))} not ready after {timeout:.0f}s; "
                        f"see {self.layout.logs}"
                    )
                if waiting:
                    await asyncio.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        """Services first (they drain to NATS), then NATS."""
        for process in self.processes.values():
            stop_service(process)
        self.server.stop()


async def hold_write_lock(database: Path, seconds: float) -> float:
    """Hold the SQLite database's write lock for ``seconds``, as a stray writer (a backup
    tool, an operator's sqlite3 shell) would; returns how long taking the lock waited."""
    conn = sqlite3.connect(database, timeout=60.0, isolation_level=None, check_same_thread=False)
    try:
        asked = time.monotonic()
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        waited = time.monotonic() - asked
        await asyncio.sleep(seconds)
        await asyncio.to_thread(conn.execute, "ROLLBACK")
        return waited
    finally:
        conn.close()
