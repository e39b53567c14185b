"""The ledger desk (台账): the ledger as far as the person may see it, filtered, searched and
paged through the same read the API's list uses; what was handed to the person's unit first;
the export links; and the statistics drawn as charts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.events import Role, utc_now
from common.http_errors import describe_errors
from common.organisation import UnitKind
from common.times import CHINA
from common.vocabulary import Category, Channel, LeadStatus, label
from common.web import Language
from common.web.people import LangQuery
from ledger.api import LEDGER_NUMBER, LONGEST_SEARCH, MAX_PAGE, PRINTABLE
from ledger.application.towns import own_prefixes
from ledger.pages import charts
from ledger.pages.shared import Show, Staff, may_not_read, render, staff
from ledger.projection.queries import Filters, is_overdue, is_unanswered
from ledger.projection.search import SHORTEST
from ledger.schemas import FIELD_LABELS

router = APIRouter(include_in_schema=False)

PAGE_SIZE: Final = 50
# Units a lead is handed to, whose desk opens on what is waiting for them.
RECEIVING: Final = frozenset({Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})
LABELS: Final = {
    **FIELD_LABELS,
    "status": ("状态", "status"),
    "unit": ("承办单位", "unit"),
    "village": ("村", "village"),
    "category": ("类别", "category"),
    "channel": ("来源渠道", "channel"),
    "overdue": ("超期", "overdue"),
    "from": ("登记日期自", "filed from"),
    "to": ("登记日期至", "filed up to"),
}

# A filter the form sends: a text field, "" when left empty.
Text = Annotated[str, Query(max_length=200)]


class DeskQuery(BaseModel):
    """What the filter form sent, an empty field meaning any."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    status: LeadStatus | None = None
    unit: str | None = Field(None, max_length=40)
    village: str | None = Field(None, max_length=40)
    category: Category | None = None
    channel: Channel | None = None
    overdue: bool | None = None
    registered_from: date | None = Field(None, alias="from")
    registered_to: date | None = Field(None, alias="to")
    ledger_number: str | None = Field(None, max_length=40, pattern=LEDGER_NUMBER)
    q: str | None = Field(None, min_length=SHORTEST, max_length=LONGEST_SEARCH, pattern=PRINTABLE)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_any(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    def filters(self) -> Filters:
        """The list's filters; a day is a day on the organisation's clock, ``to`` included."""
        return Filters(
            status=self.status.value if self.status else None,
            unit=self.unit,
            village=self.village,
            category=self.category.value if self.category else None,
            channel=self.channel.value if self.channel else None,
            overdue=self.overdue,
            registered_from=_start_of(self.registered_from),
            registered_to=_start_of(
                self.registered_to + timedelta(days=1) if self.registered_to else None
            ),
            ledger_number=self.ledger_number.upper() if self.ledger_number else None,
            q=self.q,
        )


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), CHINA)


def _export_query(chosen: Filters) -> str:
    """The API's query for the export of what the desk lists."""
    given: dict[str, str] = {}
    for name, value in chosen.__dict__.items():
        if value is None:
            continue
        key = {"registered_from": "from", "registered_to": "to"}.get(name, name)
        if isinstance(value, bool):
            given[key] = "true" if value else "false"
        elif isinstance(value, datetime):
            given[key] = value.isoformat()
        else:
            given[key] = str(value)
    return urlencode(given)


def _choices(who: Staff, lang: Language) -> dict[str, list[tuple[str, str]]]:
    org = who.runtime.org
    return {
        "status": [(s.value, label(s, lang)) for s in LeadStatus if s is not LeadStatus.REPORTED],
        "category": [(c.value, label(c, lang)) for c in Category],
        "channel": [(c.value, label(c, lang)) for c in Channel],
        "unit": [(u.code, u.label(lang)) for u in org.units if u.kind is not UnitKind.VILLAGE],
        "village": [(u.code, u.label(lang)) for u in org.villages],
    }


@router.get("/desk")
async def desk(
    request: Request,
    status: Text = "",
    unit: Text = "",
    village: Text = "",
    category: Text = "",
    channel: Text = "",
    overdue: Text = "",
    registered_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    registered_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    ledger_number: Text = "",
    q: Text = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    lang: LangQuery = "zh",
) -> HTMLResponse:
    who = staff(request)
    if not who.may_read:
        return may_not_read(request, who, lang)
    sent = {
        "status": status,
        "unit": unit,
        "village": village,
        "category": category,
        "channel": channel,
        "overdue": overdue,
        "from": registered_from,
        "to": registered_to,
        "ledger_number": ledger_number,
        "q": q,
    }
    context: dict[str, Any] = {
        "sent": sent,
        "choices": _choices(who, lang),
        "waiting": [],
        "rows": [],
        "total": 0,
        "page": page,
        "pages": 1,
        "problems": [],
        "number_hint": " / ".join(
            f"{prefix}-YYYY-NNNNNN" for prefix in own_prefixes(who.runtime.org, who.principal)
        ),
    }
    if who.principal.role in RECEIVING:
        handed = Filters(status=LeadStatus.TRANSFERRED.value, unit=who.principal.unit)
        context["waiting"] = (await who.ledger.page(who.principal, handed, 1, 500)).rows
    try:
        chosen = DeskQuery.model_validate(sent).filters()
    except ValidationError as invalid:
        context["problems"] = describe_errors(invalid.errors(), LABELS)
        return render(request, who, "desk.html", lang, 422, **context)
    found = await who.ledger.page(who.principal, chosen, page, PAGE_SIZE)
    total, rows = found.total, found.rows
    now = utc_now()
    late_after = who.ledger.settings.unanswered_after(None)
    context.update(
        rows=[
            {
                **row,
                "overdue": is_overdue(row, now),
                "unanswered": is_unanswered(row, now, late_after),
            }
            for row in rows
        ],
        total=total,
        total_exact=found.exact,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        export=_export_query(chosen),
        paging=urlencode({k: v for k, v in sent.items() if v}),
        unanswered_days=late_after.days,
    )
    return render(request, who, "desk.html", lang, **context)


@router.get("/desk/stats")
async def stats(request: Request, lang: LangQuery = "zh") -> HTMLResponse:
    who = staff(request)
    if not who.may_read:
        return may_not_read(request, who, lang)
    show = Show(who.runtime, lang)
    counts = await who.ledger.statistics(who.principal)
    timeliness = await who.ledger.timeliness(who.principal)
    unanswered = await who.ledger.unanswered(who.principal, None)

    def t(zh: str, en: str) -> str:
        return zh if lang == "zh" else en

    by_village = [
        (show.unit(code) if code != "-" else t("未注明村", "no village"), n)
        for code, n in counts["village"].items()
    ]
    on_time = [
        (t("按期办结", "result in time"), timeliness.on_time),
        (t("超期办结", "result after the deadline"), timeliness.late),
        (t("超期未办结", "past the deadline, no result"), timeliness.overdue),
    ]
    return render(
        request,
        who,
        "stats.html",
        lang,
        charts=[
            charts.rows(t("各村线索数", "Leads per village"), by_village),
            charts.columns(
                t("每月登记线索数", "Leads filed per month"), list(counts["month"].items())
            ),
            charts.rows(
                t("各类别线索数", "Leads per category"),
                [(show.category(code), n) for code, n in counts["category"].items()],
            ),
            charts.rows(t("办理时限", "Deadlines"), on_time),
        ],
        rate=timeliness.rate,
        timeliness=timeliness,
        unanswered=len(unanswered),
        unanswered_days=who.ledger.settings.unanswered_after(None).days,
        total=sum(counts["unit"].values()),
    )
