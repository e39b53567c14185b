"""Where and as whom leadctl reaches NATS, said once before the command, and running one
command's work on that connection (its own event loop, as an operator's shell has none)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from common.subjects import Service, inbox_prefix
from common.tls import nats_tls

T = TypeVar("T")


@dataclass(frozen=True)
class NatsConnection:
    """Where and as whom every command reaches NATS, given once before the command."""

    url: str
    # None when neither --user nor LEADS_NATS_USER says: each command then connects as its
    # own usual user (replay and accounts as the admin, the rest as the read-only leadctl).
    user: str | None
    password: str
    #: the CA of the NATS servers' certificates: TLS when given (--nats-tls-ca,
    #: LEADS_NATS_TLS_CA_FILE), as the deployments require
    tls_ca: Path | None = None

    def user_for(self, usual_user: str) -> str:
        return usual_user if self.user is None else self.user


def untrusted(found: NatsConnection, exc: ssl.SSLCertVerificationError) -> str:
    """What an operator is told when the server's certificate is not the expected one."""
    if found.tls_ca is None:
        return (
            f"NATS at {found.url} requires TLS, and its certificate is not one this machine"
            " trusts: give the deployment's CA with --nats-tls-ca FILE (or"
            f" LEADS_NATS_TLS_CA_FILE) ({exc.verify_message})"
        )
    return (
        f"NATS at {found.url}: its certificate is not signed by {found.tls_ca}, or does not"
        f" name the host dialled ({exc.verify_message})"
    )


def run_on_nats(
    work: Callable[[JetStreamContext], Awaitable[T]],
    found: NatsConnection,
    usual_user: str = "leadctl",
) -> T:
    user = found.user_for(usual_user)

    async def main() -> T:
        try:
            nc: Client = await nats.connect(
                found.url.split(","),
                user=user or None,
                password=found.password or None,
                inbox_prefix=inbox_prefix(Service.LEADCTL),
                allow_reconnect=False,
                **nats_tls(found.tls_ca),
            )
        except ssl.SSLCertVerificationError as exc:
            raise SystemExit(untrusted(found, exc)) from exc
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(main())
