"""A nats-server running the deployment's own permission file, and connections as its users
that record what the server reports asynchronously (notes/nats-permissions.md, trap 2: a
denial does not raise, the request goes unanswered and the error callback hears of it)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, JetStreamManager

from common.natsserver import NatsServer
from common.subjects import Service, inbox_prefix
from leadctl.provision import provision

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nats" / "embedded.conf"
USERS = ("intake", "ledger", "oversight", "leadctl", "admin")

# How long to wait for an answer that must not come; short so the files stay fast.
DENIED = 1.0
# How long an allowed operation (or the server's violation report) may take.
ALLOWED = 5.0
PERMISSIONS_VIOLATION = "permissions violation"


def password() -> str:
    # A letter, then hex: nats-server parses env values as config values, and one that
    # reads as a number or a date (digits only, a leading "-" or "<digit>-") stops it.
    return "p" + secrets.token_hex(16)


@dataclass(frozen=True)
class PermissionedServer:
    url: str
    passwords: dict[str, str]
    log: Path

    async def provision(self) -> list[str]:
        """What ``make run`` and the deployments do first, as the admin."""
        return await provision([self.url], "admin", self.passwords["admin"])


@contextlib.contextmanager
def permissioned_server(workdir: Path) -> Iterator[PermissionedServer]:
    """The deployment's own permission config on the wheel's nats-server (the system's
    2.9 is too old for `sync_interval` and the per-subject sequence check)."""
    passwords = {user: password() for user in USERS}
    env = {f"NATS_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()}
    log = workdir / "nats-server.log"
    with NatsServer(workdir / "store", config=CONFIG, env=env, log_file=log) as server:
        yield PermissionedServer(url=server.url, passwords=passwords, log=log)


@dataclass
class Connection:
    """One user's connection and the asynchronous errors the server sent it."""

    nc: Client
    js: JetStreamContext
    jsm: JetStreamManager
    errors: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(str(exc))
        self._changed.set()

    def violations(self) -> list[str]:
        return [e for e in self.errors if PERMISSIONS_VIOLATION in e.lower()]

    async def violation_for(self, subject: str) -> str:
        """The server's permissions violation for ``subject`` (or a subject below it),
        awaited rather than slept on."""
        named = re.compile(r'"' + re.escape(subject) + r'[".]', re.IGNORECASE)
        async with asyncio.timeout(ALLOWED):
            while True:
                for error in self.violations():
                    if named.search(error):
                        return error
                self._changed.clear()
                await self._changed.wait()

    async def ask(self, subject: str, body: bytes = b"", timeout: float = DENIED) -> Msg | None:
        """A raw request: its answer, or None if none came (what a denial looks like)."""
        try:
            return await self.nc.request(subject, body, timeout=timeout)
        except nats.errors.TimeoutError:
            return None


@contextlib.asynccontextmanager
async def connected(
    server: PermissionedServer, user: str, *, api_timeout: float = ALLOWED
) -> AsyncIterator[Connection]:
    # Every non-admin user may subscribe only below its own inbox prefix.
    prefix = inbox_prefix(Service(user)) if user != "admin" else "_INBOX"
    conn: Connection | None = None

    async def error_cb(exc: Exception) -> None:
        if conn is not None:
            await conn.on_error(exc)

    nc = await nats.connect(
        server.url,
        user=user,
        password=server.passwords[user],
        inbox_prefix=prefix,
        error_cb=error_cb,
        allow_reconnect=False,
        connect_timeout=ALLOWED,
    )
    conn = Connection(nc=nc, js=nc.jetstream(timeout=api_timeout), jsm=nc.jsm(timeout=api_timeout))
    try:
        yield conn
    finally:
        await nc.close()
