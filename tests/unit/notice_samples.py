"""One valid instance of every notice event (通报), for the event tests: their wire names are
the contract, and each round-trips with its optional fields filled."""

from __future__ import annotations

from datetime import date
from typing import Final

from common.events import Actor, Event, Role
from common.events.notices import (
    NoticeAccountabilityRecorded,
    NoticeDrafted,
    NoticeFacts,
    NoticeIssued,
    NoticeRevised,
    NoticeWithdrawn,
)

NOTICE = "0123456789abcdef0123456789abcdef"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
FACTS = NoticeFacts(overdue=2, late_answers=1, returns=1, lead_ids=("lead-0001", "lead-0002"))
CONTENT: Final = {
    "notice_id": NOTICE,
    "kind": "criticism",
    "unit": "shd-police",
    "period_from": date(2026, 11, 1),
    "period_to": date(2026, 11, 30),
    "title": "关于对派出所线索办理工作的通报批评",
    "body": "超期 2 件，逾期答复 1 件，退回 1 件。",
    "facts": FACTS,
    "actor": OFFICE,
}

NOTICE_WIRE_NAMES: Final = frozenset(
    {
        "NoticeDrafted",
        "NoticeRevised",
        "NoticeIssued",
        "NoticeWithdrawn",
        "NoticeAccountabilityRecorded",
    }
)

NOTICE_SAMPLES: Final[dict[type[Event], Event]] = {
    NoticeDrafted: NoticeDrafted(**CONTENT),
    NoticeRevised: NoticeRevised(
        notice_id=NOTICE, kind="praise", title="通报表扬", body="办理及时。", actor=OFFICE
    ),
    NoticeIssued: NoticeIssued(**CONTENT),
    NoticeWithdrawn: NoticeWithdrawn(notice_id=NOTICE, reason="对象有误", actor=OFFICE),
    NoticeAccountabilityRecorded: NoticeAccountabilityRecorded(
        notice_id=NOTICE,
        person="wang.police",
        unit="shd-police",
        kind="public_criticism",
        form=1,
        reason="态度消极、简单应付",
        actor=COMMITTEE,
    ),
}
