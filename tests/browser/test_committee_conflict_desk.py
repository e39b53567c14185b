"""The committee's conflict-of-interest desk in Chromium: a member keeps a person off a lead
(sent to the ledger as a directive, the category only) and lifts it again, decides on the
office's request for an override with a note, and the leak-risk report lists the override:
who asked, on what grounds, the decision and the hand-over that used it. An auditor reads
the same page with no form to decide with."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from nats.js import JetStreamContext
from playwright.async_api import Page, expect

from common.events import Role, utc_now
from common.events.catalogue import ResponsibilityAssigned
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRequested,
)
from common.subjects import Stream
from tests.browser.conftest import Screenshots
from tests.browser.test_committee_desk import Desk, desk, sign_in
from tests.support.oversight import DISCIPLINE, OFFICE_ACTOR, POLICE, person, record
from tests.support.streams import events_on

pytestmark = pytest.mark.integration
__all__ = ["desk"]  # the fixture, shared with the desk's other tests


def override_asked(lead_id: str, account: str) -> ConflictOverrideRequested:
    return ConflictOverrideRequested(
        lead_id=lead_id,
        account=account,
        reason="全所仅此一名民警熟悉该村情况",
        grounds=("named",),
        actor=OFFICE_ACTOR,
    )


async def test_a_member_guards_a_lead_and_approves_an_override_the_report_lists(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    guarded_lead, asked_lead = uuid.uuid4().hex, uuid.uuid4().hex
    await record(js, override_asked(asked_lead, "zhang.police"))
    member = await person(js, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)
    await sign_in(page, screenshot, desk, member)

    await page.click("nav.card >> text=利害关系与回避")
    await page.wait_for_url(f"{desk.url}/desk/conflict")
    # The stream may hold other tests' requests: this one is found by its lead.
    pending = page.locator(f"#pending-overrides tr[data-lead='{asked_lead}']")
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text("zhang.police")
    await expect(pending).to_contain_text("线索中出现该人员的姓名或别名")
    await screenshot(page, "利害关系 conflict page")

    # A guard on a lead, a person, the category: listed, and sent as a directive.
    await page.fill("#guard-lead_id", guarded_lead)
    await page.fill("#guard-account", "li.police")
    await page.select_option("#guard-reason", "umbrella")
    async with page.expect_navigation():
        await page.click("#form-guard button[type=submit]")
    await expect(page.locator("p.done")).to_contain_text("已限制")
    row = page.locator(f"#guards tr[data-lead='{guarded_lead}']")
    await expect(row).to_contain_text("li.police")
    await expect(row).to_contain_text("涉及保护伞案件")
    [guard] = await events_on(js, Stream.DIRECTIVES, f"directive.lead.{guarded_lead}.>")
    assert isinstance(guard, ConflictGuardSet)
    assert (guard.account, guard.reason, guard.actor.user) == ("li.police", "umbrella", "sun.jiwei")

    # An account that is not one: refused at the form, naming the field, what was typed kept.
    await page.fill("#guard-lead_id", guarded_lead)
    await page.fill("#guard-account", "<b>x</b>")
    async with page.expect_navigation():
        await page.click("#form-guard button[type=submit]")
    await expect(page.locator("main .problem")).to_contain_text("人员账户")
    await expect(page.locator("#guard-account")).to_have_value("<b>x</b>")

    async with page.expect_navigation():
        await row.locator("button[type=submit]").click()
    await expect(page.locator("p.done")).to_contain_text("已解除限制")
    await expect(page.locator(f"#guards tr[data-lead='{guarded_lead}']")).to_have_count(0)
    lifted = await events_on(js, Stream.DIRECTIVES, f"directive.lead.{guarded_lead}.>")
    assert isinstance(lifted[-1], ConflictGuardLifted)

    # The override approved with a note; the office then hands the lead over with it.
    await pending.locator("textarea[name=note]").fill("同意，由纪委全程监督")
    async with page.expect_navigation():
        await pending.locator("button[value=approve]").click()
    await expect(page.locator("p.done")).to_contain_text("已同意例外指派")
    await expect(pending).to_have_count(0)
    decided = page.locator(f"#decided-overrides tr[data-lead='{asked_lead}']")
    await expect(decided).to_contain_text("同意，由纪委全程监督")
    await screenshot(page, "已同意 approved")
    [approval] = await events_on(js, Stream.DIRECTIVES, f"directive.lead.{asked_lead}.>")
    assert isinstance(approval, ConflictOverrideApproved)
    assert (approval.account, approval.note) == ("zhang.police", "同意，由纪委全程监督")
    await record(
        js,
        ResponsibilityAssigned(
            lead_id=asked_lead,
            unit=POLICE,
            assignee="zhang.police",
            assignee_name="张警官",
            deadline=utc_now() + timedelta(days=7),
            conflict_override=True,
            actor=OFFICE_ACTOR,
        ),
    )

    await page.click("nav.card >> text=通风报信风险")
    await page.wait_for_url(f"{desk.url}/desk/leak-risk")
    listed = page.locator(f"#conflict-overrides tr[data-lead='{asked_lead}']")
    await expect(listed).to_contain_text("zhang.police")
    await expect(listed).to_contain_text("office")
    await expect(listed).to_contain_text("全所仅此一名民警熟悉该村情况")
    await expect(listed).to_contain_text("线索中出现该人员的姓名或别名")
    await expect(listed.locator("td.decision-state")).to_contain_text("同意")
    await expect(listed.locator("td").last).to_contain_text("北京时间")
    assert await listed.locator("form").count() == 0
    await screenshot(page, "通风报信风险 leak risk with overrides")


async def test_an_auditor_reads_the_conflict_page_with_no_form_to_decide_with(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    asked_lead = uuid.uuid4().hex
    await record(js, override_asked(asked_lead, "zhang.police"))
    auditor = await person(js, desk.app, "qian.audit", Role.AUDITOR, "county")
    await sign_in(page, screenshot, desk, auditor)
    await page.goto(f"{desk.url}/desk/conflict")
    row = page.locator(f"#pending-overrides tr[data-lead='{asked_lead}']")
    await expect(row).to_contain_text("zhang.police")
    assert await page.locator("main form").count() == 0
    await screenshot(page, "审计 auditor reads")
