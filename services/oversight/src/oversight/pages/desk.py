"""What every page of the committee desk shares: who is signed in and whether they decide,
how a page is rendered for them, and how codes, units and times are shown to people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from common.accounts import Account
from common.auth import Principal
from common.database import as_utc
from common.events import Role
from common.eventstore import AppendOutcomeUnknown, LogUnavailable
from common.sessions import Session
from common.times import CHINA
from common.vocabulary import (
    AccountabilityForm,
    AccountabilityKind,
    Category,
    Channel,
    Conclusion,
    label,
)
from common.web import Language
from common.web.people import LangQuery, check_form, principal_of, signed_in
from oversight.application import Oversight

#: Who reads the desk; of them only the committee's members decide (auditors and
#: administrators read, they do not decide).
READERS: Final = frozenset({Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN})
DECIDERS: Final = frozenset({Role.DISCIPLINE})

CASE_STATUS: Final[dict[str, tuple[str, str]]] = {
    "open": ("已立案", "open"),
    "supervised": ("督办中", "under supervision"),
    "listed": ("挂牌督办", "listed supervision"),
    "escalated": ("已提级办理", "escalated"),
    "closed": ("已结案", "closed"),
}
SUPERVISION_KINDS: Final[dict[str, tuple[str, str]]] = {
    "supervision": ("督办", "supervision"),
    "listed": ("挂牌督办", "listed supervision"),
    "escalated": ("提级办理", "escalated"),
}
ACCESS_KINDS: Final[dict[str, tuple[str, str]]] = {
    "viewed": ("查看", "viewed"),
    "exported": ("导出", "exported"),
    "identity_disclosed": ("披露身份", "identity disclosed"),
    "identity_requested": ("申请查阅身份", "identity requested"),
    "identity_approved": ("批准查阅身份", "identity request approved"),
    "identity_refused": ("拒绝查阅身份", "identity request refused"),
}
#: Key moments of a lead, as the leak-risk report names them (event types).
MOMENTS: Final[dict[str, tuple[str, str]]] = {
    "LeadTransferred": ("移交", "transfer"),
    "ResponsibilityAssigned": ("责任到人", "assignment"),
    "CaseOpened": ("纪委立案", "case opened"),
    "SupervisionOpened": ("督办", "supervision"),
    "SupervisionListed": ("挂牌督办", "listed supervision"),
    "EscalatedToHigherLevel": ("提级办理", "escalation"),
    "LeadConcluded": ("办结", "conclusion"),
    "DisciplineOutcome": ("纪律处理结果", "discipline outcome"),
}

#: What a person is told when the event log did not take a decision, by what went wrong.
STORE_FAILURES: Final[dict[type[Exception], dict[str, str]]] = {
    AppendOutcomeUnknown: {
        "message": "消息服务未确认是否已保存：可能已经保存。请刷新页面查看，再决定是否重试。",
        "message_en": "The event log did not confirm the write: it may have been"
        " stored. Reload the page to see, then decide whether to try again.",
    },
    LogUnavailable: {
        "message": "消息服务暂时不可用，未作任何保存，请稍后重试。",
        "message_en": "The event log is unavailable for the moment; nothing was"
        " stored. Try again shortly.",
    },
}


class Refused(Exception):
    """A desk page asked for by someone whose role may not see or do it (answered 403)."""

    def __init__(self, lang: Language, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.lang = lang
        self.message = message
        self.message_en = message_en


@dataclass(frozen=True)
class Desk:
    """One request to the desk by a person who may read it."""

    request: Request
    session: Session
    account: Account
    lang: Language

    @property
    def oversight(self) -> Oversight:
        oversight: Oversight = self.request.app.state.oversight
        return oversight

    @property
    def principal(self) -> Principal:
        return principal_of(self.account)

    @property
    def decides(self) -> bool:
        return self.account.role in DECIDERS

    def t(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def url(self, path: str, **query: str) -> str:
        """A path of this desk in the reader's language, with ``query``."""
        given = [(k, v) for k, v in query.items() if v]
        if self.lang == "en":
            given.append(("lang", "en"))
        return path + ("?" + urlencode(given) if given else "")

    def check_form(self, csrf_token: str) -> None:
        """A form this desk made for this session, posted by someone who decides."""
        if not self.decides:
            raise Refused(
                self.lang,
                "审计人员和管理员只能查阅，不能作出决定。",
                "Auditors and administrators read the desk; they do not decide.",
            )
        try:
            check_form(self.session, csrf_token)
        except HTTPException as stale:
            raise Refused(
                self.lang,
                "表单已失效（或不是本页面发出的），请刷新页面后重试。",
                "The form is stale (or was not made by this page): reload the page and try again.",
            ) from stale

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        runtime = self.request.app.state.runtime
        response: HTMLResponse = runtime.pages.render(
            self.request,
            template,
            self.lang,
            status_code,
            person=self.account,
            csrf_token=self.session.csrf,
            decides=self.decides,
            desk=self,
            **context,
        )
        return response

    def missing(self, heading: tuple[str, str], text: tuple[str, str], back: str) -> HTMLResponse:
        """The 404 of something the reader may not see, or that does not exist: one page."""
        return self.render(
            "message.html",
            404,
            heading=self.t(*heading),
            text=self.t(*text),
            problem=True,
            back=self.url(back),
        )

    # --- how things are shown ----------------------------------------------------------

    def when(self, moment: datetime | None) -> str:
        """A moment on the town's clock, with its zone said."""
        if moment is None:
            return ""
        local = as_utc(moment).astimezone(CHINA)
        return local.strftime("%Y-%m-%d %H:%M") + self.t(" 北京时间", " China time (UTC+8)")

    def unit(self, code: str | None) -> str:
        if not code:
            return ""
        found = self.oversight.runtime.org.unit(code)
        return found.label(self.lang) if found else code

    def code(self, vocabulary: type[Enum], code: str | int | None) -> str:
        """The label of a vocabulary code (the code itself when it is not one)."""
        if code is None or code == "":
            return ""
        try:
            return label(vocabulary(code), self.lang)
        except (KeyError, ValueError):
            return str(code)

    def category(self, code: str | None) -> str:
        return self.code(Category, code)

    def channel(self, code: str | None) -> str:
        return self.code(Channel, code)

    def conclusion(self, code: str | None) -> str:
        return self.code(Conclusion, code)

    def sanction(self, kind: str | None, form: int | None = None) -> str:
        """A kind of sanction, with its level of the four forms when given."""
        named = self.code(AccountabilityKind, kind)
        if form is None:
            return named
        level = self.code(AccountabilityForm, form)
        return self.t(f"{named}（{level}）", f"{named} ({level})")

    def four_forms(self, form: int) -> str:
        return self.code(AccountabilityForm, form)

    def named(self, labels: dict[str, tuple[str, str]], code: str | None) -> str:
        if code is None:
            return ""
        zh, en = labels.get(code, (code, code))
        return self.t(zh, en)


def open_desk(request: Request, lang: LangQuery = "zh") -> Desk:
    """The desk for the person signed in: the sign-in page for nobody, 403 for a role that
    may not read it."""
    session, account = signed_in(request)
    if account.role not in READERS:
        raise Refused(
            lang,
            "纪委监督台只对纪委、审计人员和管理员开放。",
            "The committee desk is for the discipline committee, auditors and administrators.",
        )
    return Desk(request, session, account, lang)


DeskDep = Annotated[Desk, Depends(open_desk)]


async def refused_page(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, Refused)  # noqa: S101 - registered for Refused only
    runtime = request.app.state.runtime
    found = signed_in(request)
    response: HTMLResponse = runtime.pages.render(
        request,
        "message.html",
        exc.lang,
        403,
        person=found[1],
        csrf_token=found[0].csrf,
        heading="无权访问" if exc.lang == "zh" else "Not for your role",
        text=exc.message if exc.lang == "zh" else exc.message_en,
        problem=True,
    )
    return response
