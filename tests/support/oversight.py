"""Oversight (纪委监督) served in-process for a test, and what its tests do with it: report
leads as intake records them, script a ledger history on LEDGER and reads on AUDIT with the
times the test chooses, decide on the committee's cases, make the directive telling a unit of
a supervision fail to append, read back the supervisions and their notices and everything its
database holds, and wait for its read model to catch up. For the committee desk: oversight
with people's accounts, the people who use it, signing in on the shared page and the CSRF
token a page's forms carry.

Oversight's read model follows its streams a little later, so tests wait until its consumers
have drained (or for a condition) instead of sleeping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import MetaData, inspect, select

from common.events import Actor, Event, Role
from common.events.catalogue import (
    FeedbackGiven,
    LeadRegistered,
    LeadReported,
    LeadTransferred,
    LeadViewed,
    ReporterRef,
    SupervisionNoticed,
)
from common.eventstore import Appended, AppendOutcomeUnknown, EventStore, LogUnavailable
from common.subjects import Service, Stream, durable_name
from common.vocabulary import Category, Channel, Flag
from ledger.settings import LedgerSettings
from oversight.application import Oversight
from oversight.bootstrap import create_app
from oversight.projection import PROJECTION
from oversight.settings import OversightSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import accounts_key_b64, open_account, session_key_b64
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id
from tests.support.ledger import ledger_settings
from tests.support.streams import drained, events_on

OFFICE = "shd-office"
POLICE = "shd-police"
JUDICIAL = "shd-judicial"
DISCIPLINE = "shd-discipline"

CLERK_ACTOR = Actor(role=Role.CLERK, unit=OFFICE, user="clerk")
REGISTRAR = Actor(role=Role.SYSTEM, unit=OFFICE, user="registrar")
OFFICE_ACTOR = Actor(role=Role.OFFICE, unit=OFFICE, user="office")
POLICE_ACTOR = Actor(role=Role.POLICE, unit=POLICE, user="police")
JUDICIAL_ACTOR = Actor(role=Role.JUDICIAL, unit=JUDICIAL, user="judicial")

# The durable consumers behind oversight: two reactors opening cases, one projection
# runner per stream it reads.
CASE_REACTORS = (
    (Stream.INTAKE, durable_name(Service.OVERSIGHT, "cases-from-reports")),
    (Stream.LEDGER, durable_name(Service.OVERSIGHT, "cases-from-transfers")),
)
OVERSIGHT_PROJECTION = tuple(
    (stream, durable_name(Service.OVERSIGHT, f"{PROJECTION.name}-{stream.value}"))
    for stream in (Stream.INTAKE, Stream.LEDGER, Stream.OVERSIGHT, Stream.DIRECTIVES, Stream.AUDIT)
)
OVERSIGHT_CONSUMERS = (*CASE_REACTORS, *OVERSIGHT_PROJECTION)


# --- the services under test ---------------------------------------------------------------


def oversight_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> OversightSettings:
    """Oversight on the test's NATS server, its automatic rules quick to fire: checked five
    times a second, on any deadline passed, on two reports of the same matter."""
    chosen: dict[str, Any] = {
        "rules_check_seconds": 0.2,
        "overdue_days": 0,
        "same_matter_reports": 2,
        **changes,
    }
    return OversightSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        **chosen,
    )


def town_ledger_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> LedgerSettings:
    """The ledger beside oversight, in a town that routes only flagged leads to the
    committee (routing is configuration): an unflagged duty-crime lead stays with the
    office, and an outcome on it is refused."""
    return ledger_settings(nats_target, database_url, tmp_path, discipline_categories=frozenset())


@dataclass(frozen=True)
class OversightService:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def oversight(self) -> Oversight:
        oversight: Oversight = self.app.state.oversight
        return oversight


@asynccontextmanager
async def serving_oversight(settings: OversightSettings) -> AsyncIterator[OversightService]:
    app = create_app(settings)
    async with serving(app) as http:
        yield OversightService(app, http)


# --- feeding the services ------------------------------------------------------------------


def intake_log(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.INTAKE, "intake")


def ledger_log(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.LEDGER, "ledger")


def ledger_audit(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.AUDIT, "audit.ledger")


async def report(
    js: JetStreamContext,
    *,
    flags: tuple[Flag, ...] = (),
    category: Category = Category.VILLAGE_TYRANT,
    summary: str = "村霸强占集体土地，威胁村民",
    village: str = "shd-v03",
    at: datetime | None = None,
) -> LeadReported:
    """A lead reported on the hotline, as intake records it."""
    reported = LeadReported(
        lead_id=new_lead_id(),
        channel=Channel.HOTLINE,
        category=category,
        summary=summary,
        village=village,
        flags=flags,
        reporter=ReporterRef(kind="anonymous"),
        actor=CLERK_ACTOR,
        **({"occurred_at": at} if at else {}),
    )
    await intake_log(js).append(reported)
    return reported


def registered(lead: LeadReported, at: datetime, number: int = 1) -> LeadRegistered:
    """The registrar's filing of ``lead`` with the office, at a moment the test chooses."""
    return LeadRegistered(
        lead_id=lead.lead_id,
        ledger_number=f"SHD-{at.year}-{number:06d}",
        unit=OFFICE,
        reported_at=lead.occurred_at,
        channel=lead.channel,
        category=lead.category,
        summary=lead.summary,
        village=lead.village,
        flags=lead.flags,
        for_committee=False,  # kept by the office, which hands it on in the test's script
        occurred_at=at,
        actor=REGISTRAR,
        **lead.caused(),
    )


def handed_over(
    lead: LeadReported, at: datetime, to_unit: str = POLICE, reason: str = "涉嫌违法犯罪"
) -> LeadTransferred:
    """The office's transfer of ``lead`` to ``to_unit``, at a moment the test chooses."""
    return LeadTransferred(
        lead_id=lead.lead_id,
        from_unit=OFFICE,
        to_unit=to_unit,
        reason=reason,
        occurred_at=at,
        actor=OFFICE_ACTOR,
    )


def answered(lead_id: str, text: str, actor: Actor = OFFICE_ACTOR) -> FeedbackGiven:
    """The ledger's answer to the reporter of ``lead_id``, given now by ``actor``."""
    return FeedbackGiven(lead_id=lead_id, text=text, actor=actor)


def read_in_the_ledger(lead_id: str, actor: Actor, at: datetime) -> LeadViewed:
    """A read of the lead in the ledger, as the ledger records it on AUDIT."""
    return LeadViewed(
        lead_id=lead_id, service="ledger", purpose="查阅线索", actor=actor, occurred_at=at
    )


async def record(js: JetStreamContext, *events: Event) -> None:
    """A scripted ledger history, appended in the order given."""
    for event in events:
        await ledger_log(js).append(event)


@dataclass
class FailingNotices:
    """How many appends of a SupervisionNoticed were made to fail, and how."""

    stored: bool
    times: int
    failed: int = 0


def failing_notices(
    monkeypatch: pytest.MonkeyPatch, *, stored: bool, times: int = 1
) -> FailingNotices:
    """The next ``times`` appends of a SupervisionNoticed fail (until ``times`` is changed):
    with JetStream not answering and nothing stored (``stored`` False), or stored with its
    acknowledgement lost (``stored`` True). Every other append goes through."""
    original = EventStore.append
    failing = FailingNotices(stored=stored, times=times)

    async def append(self: EventStore, event: Event, **conditions: Any) -> Appended:
        if not isinstance(event, SupervisionNoticed) or failing.failed >= failing.times:
            return await original(self, event, **conditions)
        if not failing.stored:
            failing.failed += 1
            raise LogUnavailable(self.stream.value)
        await original(self, event, **conditions)
        failing.failed += 1
        raise AppendOutcomeUnknown(self.stream.value)

    monkeypatch.setattr(EventStore, "append", append)
    return failing


# --- what the tests read back --------------------------------------------------------------


async def oversight_caught_up(js: JetStreamContext) -> None:
    await wait_until(lambda: drained(js, OVERSIGHT_CONSUMERS))


async def get(http: httpx.AsyncClient, path: str, user: str = "discipline", **query: Any) -> Any:
    response = await http.get(path, params=query, headers=token(user))
    assert response.status_code == 200, response.text
    return response.json()


async def decided(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], user: str = "discipline"
) -> dict[str, Any]:
    response = await http.post(path, json=body, headers=token(user))
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


def refused(response: httpx.Response, zh: str) -> None:
    """A 422 naming, in Chinese, the rule the decision breaks."""
    assert response.status_code == 422, response.text
    assert zh in response.text, response.text


async def listed_cases(http: httpx.AsyncClient, user: str = "discipline") -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = await get(http, "/v1/oversight/cases", user)
    return cases


async def case_of(
    http: httpx.AsyncClient, lead_id: str, user: str = "discipline"
) -> dict[str, Any]:
    """The committee's case on ``lead_id``, once ``user`` sees it listed."""
    found: dict[str, Any] = {}

    async def listed() -> bool:
        for case in await listed_cases(http, user):
            if case["lead_id"] == lead_id:
                found.update(case)
                return True
        return False

    await wait_until(listed)
    return found


async def ledger_lead(http: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    """The lead as the office reads it in the ledger, or None while it is not filed."""
    response = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token("office"))
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    lead: dict[str, Any] = response.json()
    return lead


async def ledger_shows(
    http: httpx.AsyncClient, lead_id: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The lead as the office reads it in the ledger, once ``until`` holds for it."""
    found: dict[str, Any] = {}

    async def shown() -> bool:
        lead = await ledger_lead(http, lead_id)
        if lead is None or not until(lead):
            return False
        found.update(lead)
        return True

    await wait_until(shown)
    return found


def stored_by_oversight(service: OversightService) -> dict[str, str]:
    """Every table of oversight's own database by name, with every value of every row as
    text: what a reader of that database could find."""
    engine = service.app.state.runtime.database.sync_engine
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            table.name: "\n".join(
                value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                for row in conn.execute(select(table))
                for value in row
            )
            for table in tables.sorted_tables
        }


def oversight_columns(service: OversightService) -> set[str]:
    """The name of every column of every table of oversight's own database."""
    found = inspect(service.app.state.runtime.database.sync_engine)
    return {c["name"] for table in found.get_table_names() for c in found.get_columns(table)}


async def notices_on(js: JetStreamContext, lead_id: str = "*") -> list[SupervisionNoticed]:
    """The directives telling a unit of the committee's supervision, as often as stored."""
    found = await events_on(js, Stream.DIRECTIVES, f"directive.lead.{lead_id}.SupervisionNoticed")
    assert all(isinstance(e, SupervisionNoticed) for e in found)
    return [e for e in found if isinstance(e, SupervisionNoticed)]


async def supervisions(
    http: httpx.AsyncClient, user: str = "discipline", **query: Any
) -> dict[str, Any]:
    """A page of the committee's list of every supervision."""
    page: dict[str, Any] = await get(http, "/v1/oversight/supervisions", user=user, **query)
    return page


async def supervisions_of(http: httpx.AsyncClient, lead_id: str) -> list[dict[str, Any]]:
    """The supervisions of ``lead_id`` the committee's list shows, the newest first."""
    page = await supervisions(http, page_size=500)
    return [s for s in page["items"] if s["lead_id"] == lead_id]


# --- the committee desk: people signed in on pages -----------------------------------------

PASSWORD = "纪委监督台的一个好密码"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def desk_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> OversightSettings:
    """Oversight as ``oversight_settings`` makes it, with people's accounts and sessions."""
    return oversight_settings(
        nats_target,
        database_url,
        tmp_path,
        accounts_key=accounts_key_b64(),
        session_key=session_key_b64(),
        **changes,
    )


@dataclass(frozen=True)
class Person:
    """Someone with an account: what they sign in with."""

    user: str
    role: Role
    unit: str | None
    totp_secret: str | None = None

    def code(self) -> str:
        """The code their phone shows now ("" for a role signing in without one)."""
        return pyotp.TOTP(self.totp_secret).now() if self.totp_secret else ""


async def person(
    js: JetStreamContext, app: FastAPI, user: str, role: Role, unit: str | None
) -> Person:
    """Opens an account (with a second factor for a committee member), and returns once
    ``app`` knows all of it (its password and second factor too)."""
    secret = await open_account(
        js, user, role, unit, PASSWORD, second_factor=role is Role.DISCIPLINE
    )

    def known() -> bool:
        account = app.state.accounts.account(user)
        return (
            account is not None
            and account.password_hash is not None
            and (secret is None or account.sealed_secret is not None)
        )

    await wait_until(known)
    return Person(user, role, unit, secret)


async def sign_in_on_page(http: httpx.AsyncClient, who: Person, next: str = "/desk") -> None:
    """Signs ``who`` in on the shared sign-in page, as a browser posts it; the client keeps
    the session cookie."""
    answer = await http.post(
        "/sign-in",
        data={"user": who.user, "password": PASSWORD, "code": who.code(), "next": next},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next


def csrf_token_of(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def umbrella_case(js: JetStreamContext, http: httpx.AsyncClient) -> dict[str, Any]:
    """A lead reported flagged as shielded by an official, and the committee's case on it
    once listed (read through the API with the committee's token)."""
    lead = await report(
        js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="派出所副所长为赌场充当保护伞"
    )
    return await case_of(http, lead.lead_id)
