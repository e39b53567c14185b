"""``GET /v1/vocabulary``: every code the services' APIs take or answer, with its Chinese
and English label; served alike by every service.

Public: the public report form needs the categories and villages before anyone signs in,
and nothing here is secret. Units are given by code, kind and name only; nothing about
people. It changes only with the configuration (the organisation file), so it is built once
per process and answered with an ETag a client revalidates with ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Annotated, Final

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field

from common.organisation import Organisation, UnitKind
from common.vocabulary import (
    CAMPAIGN_ANSWERS,
    CAMPAIGN_KINDS,
    DECLARATION_KINDS,
    GUARD_REASONS,
    IDENTITY_REASONS,
    LANGUAGES,
    NOTICE_KINDS,
    NOTICE_STATUSES,
    OVERRIDE_DECISIONS,
    TASK_SOURCES,
    TASK_STATUSES,
    UNIT_KINDS,
    AccountabilityForm,
    AccountabilityKind,
    AdditionKind,
    Category,
    Channel,
    Conclusion,
    ExportFormat,
    Flag,
    LeadStatus,
    SupervisionLevel,
    SupervisionRule,
    label,
)

PATH: Final = "/v1/vocabulary"
# A client keeps it for ten minutes, then asks again with its ETag (a 304 while the
# configuration is unchanged).
CACHE_CONTROL: Final = "public, max-age=600"


class Term(BaseModel):
    """A code and what people read for it."""

    code: str = Field(description="The code the APIs take and answer")
    label: str = Field(description="中文名称 / the label in Chinese")
    label_en: str = Field(description="英文名称 / the label in English")


class NumberedTerm(BaseModel):
    """A numbered code (the four forms) and what people read for it."""

    code: int
    label: str = Field(description="中文名称 / the label in Chinese")
    label_en: str = Field(description="英文名称 / the label in English")


class UnitTerm(Term):
    """A unit of the organisation: its code, kind and name, nothing else."""

    kind: str = Field(description="The unit's kind, one of unit_kinds")


class TownTerm(Term):
    """A town of the county: its code, names, the prefix of its ledger numbers and its
    villages."""

    ledger_prefix: str = Field(description="台账编号前缀 / the prefix of its ledger numbers")
    villages: list[Term] = Field(description="本镇行政村 / the town's villages")


class Vocabulary(BaseModel):
    """Every code the services' APIs take or answer, with its labels."""

    town: Term = Field(description="本镇（多镇县为第一个镇）/ the town (a county's first town)")
    towns: list[TownTerm] = Field(description="各乡镇及其行政村 / every town, with its villages")
    unit_kinds: list[Term] = Field(description="单位类型 / kinds of unit")
    units: list[UnitTerm] = Field(description="单位（含各村）/ units, villages included")
    villages: list[Term] = Field(description="行政村 / the villages (units of kind village)")
    channels: list[Term] = Field(description="线索来源渠道 / channels a lead comes through")
    categories: list[Term] = Field(description="线索类别 / categories of lead")
    flags: list[Term] = Field(description="重点标记 / flags on a lead")
    lead_statuses: list[Term] = Field(description="办理状态 / states of a lead")
    conclusions: list[Term] = Field(description="办理结果 / results of verification")
    accountability_kinds: list[Term] = Field(description="追责方式 / kinds of sanction")
    accountability_forms: list[NumberedTerm] = Field(description="四种形态 / the four forms")
    supervision_levels: list[Term] = Field(description="挂牌督办层级 / levels of listing")
    supervision_rules: list[Term] = Field(description="督办缘由 / why a lead is supervised")
    addition_kinds: list[Term] = Field(description="举报人补充类型 / reporter's additions")
    export_formats: list[Term] = Field(description="台账导出格式 / ledger export formats")
    languages: list[Term] = Field(description="语言 / languages of labels and exports")
    task_sources: list[Term] = Field(
        description="整改事项来源 / where a task or finding comes from"
    )
    task_statuses: list[Term] = Field(description="整改状态 / states of a rectification item")
    campaign_kinds: list[Term] = Field(description="专项工作类型 / kinds of campaign")
    campaign_answers: list[Term] = Field(description="自查结果 / a unit's answer to an item")
    notice_kinds: list[Term] = Field(description="通报类型 / kinds of notice")
    notice_statuses: list[Term] = Field(description="通报状态 / states of a notice")
    declaration_kinds: list[Term] = Field(description="利害关系申报 / what a person declares")
    identity_reasons: list[Term] = Field(description="查阅身份理由 / why an identity is asked for")
    guard_reasons: list[Term] = Field(description="回避缘由 / why the committee keeps someone off")
    override_decisions: list[Term] = Field(description="回避例外决定 / decisions on an override")


#: Each vocabulary of common.vocabulary, by the section that lists it.
SECTIONS: Final[dict[str, type[Enum]]] = {
    "channels": Channel,
    "categories": Category,
    "flags": Flag,
    "lead_statuses": LeadStatus,
    "conclusions": Conclusion,
    "accountability_kinds": AccountabilityKind,
    "accountability_forms": AccountabilityForm,
    "supervision_levels": SupervisionLevel,
    "supervision_rules": SupervisionRule,
    "addition_kinds": AdditionKind,
    "export_formats": ExportFormat,
}


#: The codes of the office's other work and of people's declarations, by section.
LABELLED: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "task_sources": TASK_SOURCES,
    "task_statuses": TASK_STATUSES,
    "campaign_kinds": CAMPAIGN_KINDS,
    "campaign_answers": CAMPAIGN_ANSWERS,
    "notice_kinds": NOTICE_KINDS,
    "notice_statuses": NOTICE_STATUSES,
    "declaration_kinds": DECLARATION_KINDS,
    "identity_reasons": IDENTITY_REASONS,
    "guard_reasons": GUARD_REASONS,
    "override_decisions": OVERRIDE_DECISIONS,
}


def vocabulary(org: Organisation) -> Vocabulary:
    def terms(codes: type[Enum]) -> list[dict[str, object]]:
        return [
            {"code": code.value, "label": label(code), "label_en": label(code, "en")}
            for code in codes
        ]

    def pair(code: str, text: tuple[str, str]) -> Term:
        return Term(code=code, label=text[0], label_en=text[1])

    return Vocabulary.model_validate(
        {
            "town": pair(org.town.code, (org.town.name, org.town.name_en)),
            "towns": [
                TownTerm(
                    code=town.code,
                    label=town.name,
                    label_en=town.name_en,
                    ledger_prefix=town.ledger_prefix,
                    villages=[
                        pair(u.code, (u.name, u.name_en)) for u in town.of_kind(UnitKind.VILLAGE)
                    ],
                )
                for town in org.towns
            ],
            "unit_kinds": [pair(code, text) for code, text in UNIT_KINDS.items()],
            "units": [
                UnitTerm(code=u.code, kind=u.kind.value, label=u.name, label_en=u.name_en)
                for u in org.units
            ],
            "villages": [pair(u.code, (u.name, u.name_en)) for u in org.villages],
            **{section: terms(codes) for section, codes in SECTIONS.items()},
            "languages": [pair(code, text) for code, text in LANGUAGES.items()],
            **{
                section: [pair(code, text) for code, text in labels.items()]
                for section, labels in LABELLED.items()
            },
        }
    )


def vocabulary_routes(org: Organisation) -> APIRouter:
    router = APIRouter(tags=["vocabulary"])
    body = vocabulary(org).model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}

    @router.get(
        PATH,
        summary="词汇表：各代码的中英文名称 / The vocabulary: every code with its labels",
        description=(
            "单位、行政村、线索类别、来源渠道、重点标记、办理状态、办理结果、追责方式、"
            "四种形态等代码及其中文、英文名称。无需登录；仅随配置变化，可凭 ETag 缓存。\n\n"
            "Units, villages, categories, channels, flags, states, results, kinds of"
            " sanction, the four forms and the other codes the APIs take, each with its"
            " Chinese and English label. No sign-in needed; it changes only with the"
            " configuration: send the ETag back as If-None-Match for a 304."
        ),
        response_model=Vocabulary,
        responses={304: {"description": "Unchanged since the ETag given"}},
    )
    async def get_vocabulary(
        if_none_match: Annotated[
            str | None,
            Header(
                max_length=1000,
                description="The ETag of a copy the client holds / 客户端已有版本的 ETag",
            ),
        ] = None,
    ) -> Response:
        if if_none_match is not None and _matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return router


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison: any listed tag, weak or not, or ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
