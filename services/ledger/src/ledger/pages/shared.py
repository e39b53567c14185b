"""What every page of the ledger desk shares: who is signed in, and how the ledger's codes and
times are shown to people (Chinese first, times in China time with the zone said)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse

from common.accounts import Account
from common.auth import Principal
from common.database import as_utc
from common.service import ServiceRuntime
from common.sessions import Session
from common.times import CHINA
from common.vocabulary import (
    ROLES,
    Category,
    Channel,
    Conclusion,
    LeadStatus,
    SupervisionRule,
    label,
)
from common.web import Language
from common.web.people import principal_of, signed_in
from ledger.application import Ledger
from ledger.projection.queries import READERS

NO_SUCH_LEAD: Final = (
    "没有这条线索，或您无权查看。",
    "There is no such lead, or it is not one you may see.",
)


@dataclass(frozen=True)
class Staff:
    """The person signed in on a desk page, and what they act through."""

    session: Session
    account: Account
    principal: Principal
    ledger: Ledger
    runtime: ServiceRuntime

    @property
    def may_read(self) -> bool:
        return self.principal.role in READERS


def staff(request: Request) -> Staff:
    """The signed-in person (the runtime answers nobody signed in with the sign-in page)."""
    session, account = signed_in(request)
    ledger: Ledger = request.app.state.ledger
    return Staff(session, account, principal_of(account), ledger, request.app.state.runtime)


class Show:
    """The ledger's codes and times as a person reads them, in the page's language."""

    def __init__(self, runtime: ServiceRuntime, lang: Language) -> None:
        self.org = runtime.org
        self.lang = lang

    def _label(self, kind: type[Enum], code: str | None) -> str:
        if not code:
            return ""
        try:
            return label(kind(code), self.lang)
        except (ValueError, KeyError):
            return code

    def status(self, code: str | None) -> str:
        return self._label(LeadStatus, code)

    def category(self, code: str | None) -> str:
        return self._label(Category, code)

    def channel(self, code: str | None) -> str:
        return self._label(Channel, code)

    def result(self, code: str | None) -> str:
        return self._label(Conclusion, code)

    def rule(self, code: str | None) -> str:
        return self._label(SupervisionRule, code)

    def unit(self, code: str | None) -> str:
        if not code:
            return ""
        unit = self.org.unit(code)
        return unit.label(self.lang) if unit else code

    def role(self, code: str | None) -> str:
        if not code:
            return ""
        zh, en = ROLES.get(code, (code, code))
        return zh if self.lang == "zh" else en

    def time(self, moment: datetime | str | None) -> str:
        """The moment on the organisation's clock, saying which clock that is."""
        if moment is None or moment == "":
            return ""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        local = as_utc(moment).astimezone(CHINA)
        return f"{local:%Y-%m-%d %H:%M} UTC+8"

    def iso(self, moment: datetime | None) -> str:
        return "" if moment is None else as_utc(moment).isoformat()


def root_of(request: Request) -> str:
    """The prefix an ingress serves the service at ("" at the root): every address a page
    gives is under it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def address(request: Request, lang: Language) -> Callable[[str], str]:
    """An address of this service for a page in ``lang``."""
    root = root_of(request)

    def at(path: str) -> str:
        suffix = "" if lang == "zh" else ("&" if "?" in path else "?") + "lang=en"
        return f"{root}{path}{suffix}"

    return at


def render(
    request: Request,
    who: Staff,
    template: str,
    lang: Language,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A desk page for the person signed in (its answer renews their session)."""
    return who.runtime.pages.render(
        request,
        template,
        lang,
        status_code,
        person=who.account,
        csrf_token=who.session.csrf,
        show=Show(who.runtime, lang),
        at=address(request, lang),
        root=root_of(request),
        **context,
    )


def message(
    request: Request,
    who: Staff,
    lang: Language,
    status_code: int,
    heading: tuple[str, str],
    text: tuple[str, str],
) -> HTMLResponse:
    """A page saying one thing (a lead not there, a role that may not read the ledger)."""
    pick = 0 if lang == "zh" else 1
    return render(
        request,
        who,
        "message.html",
        lang,
        status_code,
        heading=heading[pick],
        text=text[pick],
        problem=status_code >= 400,
        back=address(request, lang)("/desk"),
    )


def may_not_read(request: Request, who: Staff, lang: Language) -> HTMLResponse:
    return message(
        request,
        who,
        lang,
        403,
        ("不能查看台账", "The ledger is not for your role"),
        (
            f"您的角色（{who.principal.role.value}）不能查看线索台账。",
            f"Your role ({who.principal.role.value}) may not read the ledger.",
        ),
    )


def no_such_lead(request: Request, who: Staff, lang: Language) -> HTMLResponse:
    return message(request, who, lang, 404, ("未找到线索", "No such lead"), NO_SUCH_LEAD)
