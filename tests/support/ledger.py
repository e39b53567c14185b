"""The ledger (台账) served in-process for a test, and what its tests do with it: report a
lead as intake records it and wait for the registrar to file it, act on it as the units do,
and read back its events and the list the read model serves.

Commands read the lead's events from the stream; the read model (the list, one lead, the
export) follows a little later, so reads of it wait for a condition."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import MetaData, create_engine, select

from common.database import sync_url
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import (
    Attachment,
    DuplicateSuspected,
    LeadRegistered,
    LeadReported,
    LeadSupplemented,
    ReporterMessagePosted,
    ReporterRef,
    SupervisionNoticed,
)
from common.eventstore import EventStore
from common.subjects import Stream
from common.times import CHINA
from common.vocabulary import Category, Channel, Flag
from ledger.bootstrap import create_app
from ledger.settings import LedgerSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import accounts_key_b64, session_key_b64
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id

OFFICE_UNIT = "shd-office"
REGISTRATIONS = "ledger.lead.*.LeadRegistered"
REPORTER = Actor(role=Role.REPORTER)
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")

STATUS_LABELS = {
    "registered": "已登记",
    "transferred": "已移交",
    "returned": "已退回",
    "accepted": "已接收",
    "assigned": "已责任到人",
    "verifying": "核查中",
    "concluded": "已办结",
    "answered": "已反馈",
    "archived": "已归档",
    "reopened": "回头看",
}


# --- the service under test ---------------------------------------------------------------


def ledger_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> LedgerSettings:
    """The ledger on the test's NATS server. Its deadline watch looks five times a second,
    so a deadline a test lets pass is flagged at once."""
    chosen: dict[str, Any] = {"deadline_check_seconds": 0.2, **changes}
    return LedgerSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        **chosen,
    )


@dataclass(frozen=True)
class LedgerService:
    app: FastAPI
    http: httpx.AsyncClient
    js: JetStreamContext
    settings: LedgerSettings  # for a second replica on the same database


@asynccontextmanager
async def serving_ledger(
    js: JetStreamContext, settings: LedgerSettings
) -> AsyncIterator[LedgerService]:
    app = create_app(settings)
    async with serving(app) as http:
        yield LedgerService(app, http, js, settings)


# --- feeding the ledger -------------------------------------------------------------------


async def report(
    js: JetStreamContext,
    *,
    village: str = "shd-v01",
    category: Category = Category.VILLAGE_TYRANT,
    flags: tuple[Flag, ...] = (),
    summary: str = "村霸强占集体土地，威胁村民",
    reported_at: datetime | None = None,
    details: str = "",
    attachments: tuple[Attachment, ...] = (),
    reporter: ReporterRef | None = None,
) -> str:
    """A lead reported on the hotline, as intake records it; returns its id."""
    lead_id = new_lead_id()
    await EventStore(js, Stream.INTAKE, "intake").append(
        LeadReported(
            lead_id=lead_id,
            channel=Channel.HOTLINE,
            category=category,
            summary=summary,
            details=details,
            attachments=attachments,
            village=village,
            reporter=reporter or ReporterRef(kind="anonymous"),
            flags=flags,
            actor=Actor(role=Role.CLERK, unit=OFFICE_UNIT, user="clerk"),
            **({"occurred_at": reported_at} if reported_at else {}),
        )
    )
    return lead_id


async def added_by_reporter(
    js: JetStreamContext,
    lead_id: str,
    text: str,
    *,
    message: bool = False,
    attachments: tuple[Attachment, ...] = (),
) -> Event:
    """What the receipt holder adds to the report (a supplement) or writes to the office (a
    message), as intake records it."""
    event: Event = (
        ReporterMessagePosted(lead_id=lead_id, text=text, actor=REPORTER)
        if message
        else LeadSupplemented(lead_id=lead_id, text=text, attachments=attachments, actor=REPORTER)
    )
    await EventStore(js, Stream.INTAKE, "intake").append(event)
    return event


async def linked_as_same_matter(js: JetStreamContext, lead_id: str, duplicate_of: str) -> None:
    """Intake's detector taking ``lead_id`` for the same matter as ``duplicate_of``."""
    await EventStore(js, Stream.INTAKE, "intake").append(
        DuplicateSuspected(
            lead_id=lead_id,
            duplicate_of=duplicate_of,
            basis="same category and village, 90% of the wording alike",
            actor=Actor(role=Role.SYSTEM, user="system"),
        )
    )


async def supervision_noticed(
    js: JetStreamContext, lead_id: str, unit: str, reason: str, rule: str | None = None
) -> SupervisionNoticed:
    """The committee's supervision told to the unit handling the lead, as oversight sends it."""
    notice = SupervisionNoticed(
        lead_id=lead_id, unit=unit, reason=reason, rule=rule, actor=COMMITTEE
    )
    await EventStore(js, Stream.DIRECTIVES, "directive").append(notice)
    return notice


async def filed(http: httpx.AsyncClient, lead_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The lead as the office sees it, once the registrar has filed it."""
    found: dict[str, Any] = {}

    async def registered() -> bool:
        response = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token("office"))
        if response.status_code == 404:
            return False
        assert response.status_code == 200, response.text
        found.update(response.json())
        return True

    await wait_until(registered, timeout)
    return found


async def report_and_file(service: LedgerService, **details: Any) -> dict[str, Any]:
    return await filed(service.http, await report(service.js, **details))


# --- acting on a lead ---------------------------------------------------------------------


async def act(
    http: httpx.AsyncClient, lead_id: str, command: str, user: str, **body: Any
) -> httpx.Response:
    return await http.post(f"/v1/ledger/leads/{lead_id}/{command}", json=body, headers=token(user))


def moved_to(response: httpx.Response, status: str) -> dict[str, Any]:
    """The command was recorded and left the lead in ``status``, labelled in Chinese."""
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    assert (done["status"], done["status_label"]) == (status, STATUS_LABELS[status])
    return done


def refused(response: httpx.Response, zh: str, en: str) -> None:
    """A 422 saying, in Chinese and in English, which rule the command breaks."""
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert zh in problem["message"], problem
    assert en in problem["message_en"], problem


def hidden(response: httpx.Response) -> None:
    """The answer for a lead that does not exist, which is also that for one the user may
    not see."""
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "no such lead, or not one you may see"},
    ), response.text


def forbidden(response: httpx.Response, why: str = "") -> None:
    assert response.status_code == 403, response.text
    assert why in response.json()["detail"]


async def handed_to_police(http: httpx.AsyncClient, lead_id: str) -> None:
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌违法犯罪"),
        "transferred",
    )
    moved_to(await act(http, lead_id, "accept", "police"), "accepted")


async def assigned_by_police(
    http: httpx.AsyncClient, lead_id: str, deadline: datetime | None = None
) -> None:
    moved_to(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="wang.police",
            assignee_name="王警官",
            **({"deadline": deadline.isoformat()} if deadline else {}),
        ),
        "assigned",
    )


def in_days(days: float) -> datetime:
    return utc_now() + timedelta(days=days)


# --- what the test reads back -------------------------------------------------------------


async def ledger_events(js: JetStreamContext, lead_id: str) -> list[Event]:
    history = await EventStore(js, Stream.LEDGER, "ledger").read_lead(lead_id)
    return [stored.event for stored in history.events]


async def event_types(js: JetStreamContext, lead_id: str) -> list[str]:
    return [event.event_type for event in await ledger_events(js, lead_id)]


async def listed(http: httpx.AsyncClient, user: str = "office", **query: Any) -> dict[str, Any]:
    response = await http.get("/v1/ledger/leads", params=query, headers=token(user))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def ids_listed(http: httpx.AsyncClient, user: str = "office", **query: Any) -> set[str]:
    page = await listed(http, user, page_size=500, **query)
    return {item["lead_id"] for item in page["items"]}


async def found_by_search(http: httpx.AsyncClient, words: str, user: str = "office") -> set[str]:
    """The leads a full-text search finds for ``user`` (a search, like the list, records
    no access)."""
    return await ids_listed(http, user, q=words)


async def read(
    http: httpx.AsyncClient, key: str, user: str = "office", **query: Any
) -> httpx.Response:
    """One lead in full, by id or ledger number (the read is recorded)."""
    return await http.get(f"/v1/ledger/leads/{key}", params=query, headers=token(user))


async def read_in_full(http: httpx.AsyncClient, key: str, user: str = "office") -> dict[str, Any]:
    response = await read(http, key, user)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def everything_stored(database_url: str) -> str:
    """Every value of every row of every table of a ledger database (search indexes
    included), as text: what a reader of the database file could find."""
    engine = create_engine(sync_url(database_url))
    tables = MetaData()
    try:
        tables.reflect(engine)
        with engine.connect() as conn:
            values = [
                value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                for table in tables.sorted_tables
                for row in conn.execute(select(table))
                for value in row
            ]
    finally:
        engine.dispose()
    assert values
    return "\n".join(values)


async def shown(http: httpx.AsyncClient, lead_id: str, **expected: Any) -> dict[str, Any]:
    """The lead's row in the list once the read model shows ``expected`` (the list, unlike
    reading one lead, records no access)."""
    found: dict[str, Any] = {}

    async def caught_up() -> bool:
        page = await listed(http, page_size=500)
        row = next((item for item in page["items"] if item["lead_id"] == lead_id), None)
        if row is None or any(row[k] != v for k, v in expected.items()):
            return False
        found.update(row)
        return True

    await wait_until(caught_up)
    return found


# --- the desk (people's pages) ------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def desk_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> LedgerSettings:
    """The ledger taking people's sessions: its own session key, the accounts key."""
    return ledger_settings(
        nats_target,
        database_url,
        tmp_path,
        accounts_key=accounts_key_b64(),
        session_key=session_key_b64(),
        **changes,
    )


async def signed_in_on_page(http: httpx.AsyncClient, user: str, password: str) -> str:
    """Signs in on the service's sign-in page once the service knows the account (its
    projection of ACCOUNTS follows the log); returns the CSRF token the desk's forms carry."""

    async def known() -> bool:
        answer = await http.post(
            "/sign-in", data={"user": user, "password": password, "next": "/desk"}
        )
        return answer.status_code == 303

    await wait_until(known)
    desk = await http.get("/desk")
    assert desk.status_code == 200, desk.text
    return csrf_on(desk.text)


def csrf_on(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page carries no form with a CSRF token"
    return found.group(1)


async def send_desk_form(
    http: httpx.AsyncClient, lead_id: str, form: str, csrf: str | None, **fields: str
) -> httpx.Response:
    """A form of the lead page sent as the browser sends it (without a token when None)."""
    data = {**fields, **({"csrf_token": csrf} if csrf is not None else {})}
    return await http.post(f"/desk/leads/{lead_id}/{form}", data=data)


async def filed_long_ago(service: LedgerService, when: datetime, number: int) -> str:
    """A lead filed ``when``, as a ledger kept before this service is brought in: written to
    LEDGER directly (the registrar files with the current time). The registrar numbers on
    from the last number filed: one of a year before leaves this year's numbering alone."""
    lead_id = new_lead_id()
    await EventStore(service.js, Stream.LEDGER, "ledger").append(
        LeadRegistered(
            lead_id=lead_id,
            ledger_number=f"SHD-{when.astimezone(CHINA).year}-{number:06d}",
            unit=OFFICE_UNIT,
            reported_at=when,
            channel=Channel.WALK_IN,
            category=Category.PUBLIC_ORDER,
            summary="旧台账线索",
            village="shd-v03",
            for_committee=False,
            occurred_at=when,
            actor=Actor(role=Role.SYSTEM, unit=OFFICE_UNIT, user="registrar"),
        )
    )
    await filed(service.http, lead_id)
    return lead_id


def row_classes(html: str, lead_id: str) -> set[str] | None:
    """The classes of the desk's row for the lead (None when the lead is not listed)."""
    found = re.search(rf'<tr class="([^"]*)" data-lead="{re.escape(lead_id)}">', html)
    return set(found.group(1).split()) if found else None
