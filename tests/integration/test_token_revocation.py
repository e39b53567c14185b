"""A replaced token stops working on every running service within seconds, without a
restart: the services follow the users file that ``leadctl add-user`` rewrites."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from typer.testing import CliRunner

from leadctl.cli import app as leadctl
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import serving, token, write_staff
from tests.support.suite import SERVICES, create_service

pytestmark = pytest.mark.integration

# A request each service answers only to someone signed in, and that changes nothing: with
# a token it is not valid, 401; with a valid police token the service's own answer.
PROBES = {
    "intake": ("POST", "/v1/leads", 422),  # an empty form, refused field by field
    "ledger": ("GET", "/v1/ledger/leads", 200),
    "oversight": ("GET", "/v1/oversight/cases", 403),  # police are not the committee's
}


async def probe(client: httpx.AsyncClient, service: str, bearer: str) -> int:
    method, path, _ = PROBES[service]
    response = await client.request(
        method, path, headers={"Authorization": f"Bearer {bearer}"}, json={}
    )
    return response.status_code


def replace_token(users: Path, user: str, *options: str) -> str:
    """``leadctl add-user`` for a user already there: a new token, shown once."""
    arguments = ["add-user", user, *options, "--name", user, "--users-file", str(users)]
    replaced = CliRunner().invoke(leadctl, arguments)
    assert replaced.exit_code == 0, replaced.output
    return replaced.stdout.strip()


def switched(
    client: httpx.AsyncClient, service: str, old: str, new: str
) -> Callable[[], Awaitable[bool]]:
    async def old_refused_and_new_accepted() -> bool:
        answers = (await probe(client, service, old), await probe(client, service, new))
        return answers == (401, PROBES[service][2])

    return old_refused_and_new_accepted


async def test_a_replaced_police_token_is_refused_everywhere_within_seconds_and_its_successor_works(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    users = write_staff(tmp_path / "users.toml")
    old = token("police")["Authorization"].removeprefix("Bearer ")
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                serving(create_service(name, nats_target, tmp_path, users))
            )
            for name in SERVICES
        }
        for name, client in clients.items():
            assert await probe(client, name, old) == PROBES[name][2], name

        new = replace_token(users, "police", "--role", "police", "--unit", "shd-police")

        for name, client in clients.items():
            await wait_until(switched(client, name, old, new), timeout=5)
        # Nobody else lost their access on the way.
        assert await probe(clients["ledger"], "ledger", "token-office") == 200
