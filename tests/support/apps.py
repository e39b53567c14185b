"""Running a service in-process against the test's NATS server and a fresh database."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

import httpx
from fastapi import FastAPI

from common.auth import UserRecord, hash_token, write_users_file
from common.events import Role
from common.workauth import WorkAuth

# user -> (role, unit); the token is "token-<user>"
STAFF = {
    "screener.v01": (Role.SCREENER, "shd-v01"),
    "screener.v02": (Role.SCREENER, "shd-v02"),
    "clerk": (Role.CLERK, "shd-office"),
    "office": (Role.OFFICE, "shd-office"),
    "police": (Role.POLICE, "shd-police"),
    "judicial": (Role.JUDICIAL, "shd-judicial"),
    "discipline": (Role.DISCIPLINE, "shd-discipline"),
    "custodian": (Role.CUSTODIAN, "shd-discipline"),
    # A second custodian: a request for an identity is decided by one other than the asker.
    "custodian.2": (Role.CUSTODIAN, "shd-discipline"),
    "auditor": (Role.AUDITOR, "county"),
    "admin": (Role.ADMIN, None),
    # People a lead is handed to (an assignee is a person of the unit holding the lead).
    "wang.police": (Role.POLICE, "shd-police"),
    "li.police": (Role.POLICE, "shd-police"),
    "zhou.office": (Role.OFFICE, "shd-office"),
    "zhao.jiwei": (Role.DISCIPLINE, "shd-discipline"),
    **{f"officer.{n}": (Role.POLICE, "shd-police") for n in range(8)},
}


def token(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{user}"}


def write_staff(path: Path) -> Path:
    return write_people(path, STAFF)


def write_people(path: Path, people: Mapping[str, tuple[Role, str | None]]) -> Path:
    """A users file of these people (user -> role, unit), each with the token "token-<user>"."""
    write_users_file(
        path,
        [
            UserRecord(
                user=u, display_name=u, role=r, unit=unit, token_sha256=hash_token(f"token-{u}")
            )
            for u, (r, unit) in people.items()
        ],
    )
    return path


def random_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@overload
def parse(moment: str) -> datetime: ...
@overload
def parse(moment: None) -> None: ...
def parse(moment: str | None) -> datetime | None:
    """A time a service answered, read back (UTC when it gives no offset)."""
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an HTTP client talking to it in-process
    (solving intake's proof-of-work challenges like any public client)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", auth=WorkAuth()
        ) as client:
            yield client
