"""Intake's public pages over plain HTTP: the receipt is answered once, never kept by a cache,
a cookie or a URL; a form sent again (same idempotency key) gives the same receipt and files
one lead; a refusal is shown beside its field with the form kept filled; nothing of a report is
shown without a solved proof of work; and staff's entry form is refused without its CSRF
token and answers a lead it files with a redirect."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.events.catalogue import ReporterKind
from common.subjects import Stream
from common.vocabulary import Category, Flag
from common.work import Purpose, solve
from tests.conftest import wait_until
from tests.support.accounts import open_account
from tests.support.intake import (
    LEAD_REPORTED,
    OWN_VILLAGE,
    report_of,
    reports_stored,
    unique,
    wait_until_projected,
)
from tests.support.streams import subjects_on

pytestmark = pytest.mark.integration

PASSWORD = "沙河店镇的一个好密码"


class Page(HTMLParser):
    """What a test reads of a page: its form inputs' values, its text by element id or
    class, and every link and form action."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}
        self.targets: list[str] = []
        self._open: list[tuple[str, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {name: value or "" for name, value in attrs}
        if tag in ("input", "textarea") and "name" in given:
            checked = given.get("type") not in ("checkbox", "radio") or "checked" in given
            if checked:
                self.inputs.setdefault(given["name"], []).append(given.get("value", ""))
        if tag == "option" and "selected" in given:
            self._open.append(("selected", []))
        self.targets += [given[k] for k in ("href", "action") if k in given]
        names = [f"#{given['id']}"] if "id" in given else []
        names += [f".{c}" for c in given.get("class", "").split()]
        if tag == "textarea":
            names.append(f"textarea:{given.get('name', '')}")
        if names and tag not in ("input", "br", "meta", "link"):
            self._open.append((tag, names))

    def handle_data(self, data: str) -> None:
        for _, names in self._open:
            for name in names:
                self.texts[name] = self.texts.get(name, "") + data

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i]
                return

    def value(self, name: str) -> str:
        [value] = self.inputs[name]
        return value

    def text(self, name: str) -> str:
        return " ".join(self.texts.get(name, "").split())


async def proof(client: httpx.AsyncClient, purpose: Purpose) -> str:
    given = (await client.get(f"/v1/work/{purpose}")).json()
    return solve(given["challenge"], given["bits"])


def report_form(key: str, summary: str, **more: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "idempotency_key": key,
        "category": Category.VILLAGE_TYRANT.value,
        "village": OWN_VILLAGE,
        "summary": summary,
        "details": "每月初来收，不给就砸店。",
        "flags": [Flag.PROTECTIVE_UMBRELLA.value],
        "name": "王某",
        "phone": "13800000000",
        **more,
    }


async def test_the_receipt_is_answered_once_unkept_and_a_form_sent_again_files_one_lead(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    shown = await intake.get("/report")
    assert shown.status_code == 200, shown.text
    key = Page(shown.text).value("idempotency_key")
    assert len(key) >= 16
    assert key != Page((await intake.get("/report")).text).value("idempotency_key")
    form = report_form(key, unique("村霸强收保护费"))

    first = await intake.post("/report", data=form | {"work": await proof(intake, "report")})
    assert first.status_code == 200, first.text
    receipt = Page(first.text).text(".receipt")
    assert len(receipt) == 23, receipt
    assert first.headers["Cache-Control"] == "no-store"
    assert "set-cookie" not in first.headers
    assert not first.history  # answered in place: no redirect to a URL holding it
    assert receipt not in str(first.url)
    assert [t for t in Page(first.text).targets if receipt in t] == []

    # The answer was lost; the form goes again as it was, with its proof spent: refused,
    # kept filled with the same key, and a new proof files nothing twice.
    spent = await intake.post("/report", data=form | {"work": form_work(first)})
    assert spent.status_code == 428, spent.text
    again = Page(spent.text)
    assert again.value("idempotency_key") == key
    assert again.value("summary") == form["summary"]
    assert again.value("phone") == form["phone"]
    assert again.inputs["flags"] == [Flag.PROTECTIVE_UMBRELLA.value]
    assert "该题目已使用" in again.text(".problem")

    second = await intake.post("/report", data=form | {"work": await proof(intake, "report")})
    assert second.status_code == 200, second.text
    assert Page(second.text).text(".receipt") == receipt
    assert await reports_stored(streams) == 1

    [subject] = await subjects_on(streams, Stream.INTAKE, LEAD_REPORTED)
    reported = await report_of(streams, subject.split(".")[2])
    assert reported.reporter.kind is ReporterKind.NAMED
    assert reported.flags == (Flag.PROTECTIVE_UMBRELLA,)


def form_work(answer: httpx.Response) -> str:
    """The proof the request that got ``answer`` carried."""
    sent = answer.request.content.decode()
    [work] = [part for part in sent.split("&") if part.startswith("work=")]
    return httpx.QueryParams(work)["work"]


async def test_a_refused_report_says_why_beside_the_field_and_keeps_the_form(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    key = Page((await intake.get("/report")).text).value("idempotency_key")

    short = await intake.post(
        "/report", data=report_form(key, "太短") | {"work": await proof(intake, "report")}
    )
    assert short.status_code == 422, short.text
    page = Page(short.text)
    assert page.text("#summary-problem") == "简要内容太短"
    assert page.value("summary") == "太短"
    assert page.value("name") == "王某"
    assert page.value("idempotency_key") == key

    nowhere = report_form(key, unique("村霸强占土地"), village="shd-v99")
    unknown = await intake.post("/report", data=nowhere | {"work": await proof(intake, "report")})
    assert unknown.status_code == 422, unknown.text
    assert Page(unknown.text).text("#village-problem").startswith("所属村：没有这个村")

    english = await intake.post(
        "/report?lang=en", data=report_form(key, "太短") | {"work": await proof(intake, "report")}
    )
    assert Page(english.text).text("#summary-problem") == "summary is too short"
    assert await reports_stored(streams) == 0


async def test_nothing_of_a_report_is_shown_without_a_solved_proof_of_work(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    key = Page((await intake.get("/report")).text).value("idempotency_key")
    filed = await intake.post(
        "/report",
        data=report_form(key, unique("村霸强收保护费")) | {"work": await proof(intake, "report")},
    )
    receipt = Page(filed.text).text(".receipt")

    unproven = await intake.post("/my-report", data={"receipt": receipt})
    assert unproven.status_code == 428, unproven.text
    assert Page(unproven.text).text("#progress") == ""
    assert "浏览器需要先完成一步防滥用的计算" in Page(unproven.text).text(".problem")

    wrong_purpose = await intake.post(
        "/my-report", data={"receipt": receipt, "work": await proof(intake, "report")}
    )
    assert wrong_purpose.status_code == 428, wrong_purpose.text

    unknown = await intake.post(
        "/my-report",
        data={"receipt": "00000-00000-00000-00000", "work": await proof(intake, "receipt")},
    )
    assert unknown.status_code == 404, unknown.text
    assert "没有找到这个查询码" in Page(unknown.text).text("#receipt-problem")

    adding = await intake.post("/my-report/add", data={"receipt": receipt, "text": "补充"})
    assert adding.status_code == 428, adding.text
    assert Page(adding.text).text("#progress") == ""
    assert Page(adding.text).text("textarea:text") == "补充"

    [subject] = await subjects_on(streams, Stream.INTAKE, LEAD_REPORTED)
    await wait_until_projected(sqlite_url, subject.split(".")[2])
    proven = await intake.post(
        "/my-report?lang=en", data={"receipt": receipt, "work": await proof(intake, "receipt")}
    )
    assert proven.status_code == 200, proven.text
    shown = Page(proven.text)
    assert shown.text("#progress") == "received"
    assert "/my-report/add?lang=en" in shown.targets
    # in the forms (look again, add, add files), never in a link
    assert shown.inputs["receipt"] == [receipt, receipt, receipt]
    assert [t for t in shown.targets if receipt in t] == []


async def test_a_screener_s_lead_of_another_village_is_refused_on_the_page_kept_filled(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    await open_account(streams, "zhang.v01", Role.SCREENER, OWN_VILLAGE, PASSWORD)

    async def signed_in() -> bool:
        answer = await intake.post("/sign-in", data={"user": "zhang.v01", "password": PASSWORD})
        return answer.status_code == 303

    await wait_until(signed_in)
    shown = Page((await intake.get("/desk/entry")).text)
    in_english = await intake.get("/desk/entry?lang=en")
    assert "<h1>Enter a lead</h1>" in in_english.text
    assert "/desk/entry/import?lang=en" in Page(in_english.text).targets
    csrf, key = shown.inputs["csrf_token"][0], shown.value("idempotency_key")
    form = {
        "csrf_token": csrf,
        "idempotency_key": key,
        "channel": "village_screening",
        "village": "shd-v02",
        "category": Category.VILLAGE_TYRANT.value,
        "summary": "邻村有人强占集体鱼塘",
        "details": "",
    }

    elsewhere = await intake.post("/desk/entry", data=form)
    assert elsewhere.status_code == 403, elsewhere.text
    page = Page(elsewhere.text)
    assert page.text("#village-problem") == "摸排员只能录入本村的线索"
    assert page.value("summary") == form["summary"]
    assert page.value("idempotency_key") == key

    forged = await intake.post("/desk/entry", data=form | {"csrf_token": "guess"})
    assert forged.status_code == 403, forged.text
    assert await reports_stored(streams) == 0

    own = await intake.post("/desk/entry", data=form | {"village": OWN_VILLAGE})
    assert own.status_code == 303, own.text
    lead_id = httpx.URL(own.headers["location"]).params["entered"]
    assert (await report_of(streams, lead_id)).actor.user == "zhang.v01"
    again = await intake.post("/desk/entry", data=form | {"village": OWN_VILLAGE})
    assert again.headers["location"] == own.headers["location"]
    assert await reports_stored(streams) == 1
