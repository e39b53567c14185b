"""The committee desk's notices and overdue rectification items in Chromium: a member holds
a unit's person accountable on an issued criticism notice with the page's form (refused at
the form, what was typed kept, when the reason is too long) and sees it listed; an auditor
reads the notices with no form, and a post of the form by them is refused; the overdue
items of the rectification ledger are listed on their own page, reached from the desk's
navigation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import APIResponse, Page

from common.events import Actor, Role
from common.events.notices import NoticeAccountabilityRecorded, NoticeFacts, NoticeIssued
from common.events.tasks import TaskOpened, TaskSource
from common.subjects import Stream
from tests.browser.conftest import Screenshots
from tests.browser.test_committee_desk import Desk, desk, shown_after_reloads, sign_in
from tests.support.oversight import DISCIPLINE, OFFICE_ACTOR, POLICE, person, record
from tests.support.streams import events_on

pytestmark = pytest.mark.integration
__all__ = ["desk"]  # the fixture, shared with the desk's other tests


def criticism(
    title: str = "关于沙河店派出所线索办理超期的通报批评", kind: str = "criticism"
) -> NoticeIssued:
    return NoticeIssued(
        notice_id=uuid.uuid4().hex,
        kind=kind,  # type: ignore[arg-type]
        unit=POLICE,
        period_from=date(2026, 11, 1),
        period_to=date(2026, 11, 30),
        title=title,
        body="正文",
        facts=NoticeFacts(overdue=2, returns=1),
        actor=OFFICE_ACTOR,
    )


async def posted_by_hand(
    page: Page, desk: Desk, notice_id: str, csrf_token: str, reason: str
) -> APIResponse:
    """The accountability form posted with the page's cookies, not through the page."""
    return await page.request.post(
        f"{desk.url}/desk/notices/{notice_id}/accountability",
        form={
            "csrf_token": csrf_token,
            "person": "李某",
            "kind": "accountability",
            "form": "1",
            "reason": reason,
        },
    )


async def test_a_member_holds_a_person_accountable_on_a_criticism_notice(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    issued = criticism()
    await record(js, issued)
    member = await person(js, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)
    await sign_in(page, screenshot, desk, member)

    await page.click("nav.card >> text=通报批评")
    await page.wait_for_url(f"{desk.url}/desk/notices")
    row = f"#notice-{issued.notice_id}"
    await shown_after_reloads(page, row, issued.title)
    assert "尚未问责" in await page.inner_text(f"{row} td.accountability")
    form = f"#hold-{issued.notice_id}"

    # A reason over the limit (the browser's own limit taken off, as a hostile client
    # would): refused at the form, naming the field, what was typed kept.
    await page.click(f"{row} summary")
    await page.fill(f"{form}-person", "王警官")
    await page.eval_on_selector(f"{form}-reason", "e => e.removeAttribute('maxlength')")
    await page.fill(f"{form}-reason", "态" * 501)
    async with page.expect_navigation():
        await page.click(f"{form} button[type=submit]")
    await screenshot(page, "理由过长 refused inline")
    assert "理由" in await page.inner_text(f"{form} .problem")
    assert await page.input_value(f"{form}-person") == "王警官"
    assert await page.locator(f"{form}-reason[aria-invalid=true]").count() == 1

    await page.select_option(f"{form}-kind", "accountability")
    await page.select_option(f"{form}-form", "2")
    await page.fill(f"{form}-reason", "线索办理超期、推诿退回，态度消极")
    async with page.expect_navigation():
        await page.click(f"{form} button[type=submit]")
    assert "已记录问责" in await page.inner_text("p.done")
    await shown_after_reloads(page, f"{row} td.accountability", "王警官")
    await screenshot(page, "已问责 recorded")
    assert "线索办理超期、推诿退回，态度消极" in await page.inner_text(f"{row} td.accountability")

    [stored] = await events_on(
        js, Stream.OVERSIGHT, f"oversight.notice.{issued.notice_id}.NoticeAccountabilityRecorded"
    )
    assert isinstance(stored, NoticeAccountabilityRecorded)
    assert (stored.person, stored.unit, stored.kind, stored.form) == (
        "王警官",
        POLICE,
        "accountability",
        2,
    )
    assert stored.actor.user == "sun.jiwei"

    # A form with a token not made for this session is refused, and nothing is stored.
    answer = await posted_by_hand(page, desk, issued.notice_id, "forged", "伪造的表单")
    assert answer.status == 403
    assert "表单已失效" in await answer.text()
    assert (
        len(
            await events_on(
                js,
                Stream.OVERSIGHT,
                f"oversight.notice.{issued.notice_id}.NoticeAccountabilityRecorded",
            )
        )
        == 1
    )

    # A praise notice has no form here; posted by hand it is refused, said on the page.
    praise = criticism("关于司法所办理及时的通报表扬", kind="praise")
    await record(js, praise)
    token = await page.locator(f"{form} input[name=csrf_token]").input_value()

    # The notice is read from the log as the ledger issued it: known at once.
    answer = await posted_by_hand(page, desk, praise.notice_id, token, "表扬不应问责")
    assert answer.status == 422
    assert "通报表扬不适用" in await answer.text()
    # A level that is not one of the four forms is refused naming the field.
    answer = await page.request.post(
        f"{desk.url}/desk/notices/{issued.notice_id}/accountability",
        form={
            "csrf_token": token,
            "person": "李某",
            "kind": "accountability",
            "form": "9",
            "reason": "第九种形态",
        },
    )
    assert answer.status == 422
    assert "四种形态" in await answer.text()
    assert len(await events_on(js, Stream.OVERSIGHT, "oversight.notice.>")) == 1


async def test_an_auditor_reads_the_notices_with_no_form_and_may_not_post_one(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    issued = criticism("关于司法所工作开展不力的通报批评")
    await record(js, issued)
    auditor = await person(js, desk.app, "qian.audit", Role.AUDITOR, "county")
    await sign_in(page, screenshot, desk, auditor)

    await page.goto(f"{desk.url}/desk/notices")
    await shown_after_reloads(page, f"#notice-{issued.notice_id}", issued.title)
    await screenshot(page, "通报批评 notices")
    assert await page.locator("form.decision").count() == 0
    assert await page.locator("#notices summary").count() == 0

    # With the session's own token (the sign-out form's): refused for the role.
    token = await page.locator("input[name=csrf_token]").first.input_value()
    answer = await posted_by_hand(page, desk, issued.notice_id, token, "审计人员不能问责")
    assert answer.status == 403
    assert "只能查阅" in await answer.text()
    assert await events_on(js, Stream.OVERSIGHT, f"oversight.notice.{issued.notice_id}.>") == []


async def test_the_overdue_rectification_items_are_listed_on_their_page(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    office = Actor(role=Role.OFFICE, unit="shd-office", user="office")

    def item(task_id: str, problem: str, days_left: int) -> TaskOpened:
        return TaskOpened(
            task_id=task_id,
            source=TaskSource.INSPECTION,
            problem=problem,
            measures=("限期整改",),
            unit=POLICE,
            assignee="wang.police",
            assignee_name="王警官",
            deadline=datetime.now(UTC)
            + timedelta(days=days_left, hours=-1 if days_left < 0 else 1),
            town="shd",
            actor=office,
        )

    await record(
        js,
        item("late-item", "督导反馈：线索台账登记不全", -3),
        item("on-time", "尚在时限内的整改", 5),
    )
    member = await person(js, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)
    await sign_in(page, screenshot, desk, member)

    await page.click("nav.card >> text=超期整改")
    await page.wait_for_url(f"{desk.url}/desk/tasks/overdue")
    await shown_after_reloads(page, "#overdue-tasks", "督导反馈：线索台账登记不全")
    await screenshot(page, "超期整改 overdue items")
    row = await page.inner_text("#task-late-item")
    assert "沙河店派出所" in row
    assert "王警官" in row
    assert "整改中" in row
    assert "\t3\t" in row
    assert "北京时间" in row
    assert "尚在时限内的整改" not in await page.inner_text("main")

    # Filtered by another unit, the item is not listed.
    await page.goto(f"{desk.url}/desk/tasks/overdue?unit=shd-judicial")
    assert await page.locator("#overdue-tasks").count() == 0
    assert "没有超期未销号的整改事项" in await page.inner_text("main")
