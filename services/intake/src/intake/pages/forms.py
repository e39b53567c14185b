"""What intake's pages share: reading a lead's form into the API's own input model, the
problems a refusal shows beside its fields, and the lists a form offers."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from common.database import as_utc
from common.errors import RuleViolation
from common.http_errors import describe_errors, describe_violation
from common.organisation import Organisation
from common.times import CHINA
from common.vocabulary import Category, Channel, Flag, label
from common.web import Language
from intake.schemas import FIELD_LABELS

M = TypeVar("M", bound=BaseModel)

#: the inputs of a lead's form, beside the flags (checkboxes, any number)
LEAD_FIELDS = ("category", "village", "summary", "details", "name", "phone")
#: as the API's Idempotency-Key header
_KEY_LENGTHS = range(16, 201)
#: a problem about these is shown beside the identity's inputs
_IDENTITY = ("name", "phone", "id_number", "address")


@dataclass
class Problems:
    """What a refused form shows: every problem at the top, and each beside its input."""

    lang: Language
    listed: list[str] = field(default_factory=list)
    by_field: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.listed)

    def add(self, text: str, input_name: str = "") -> None:
        self.listed.append(text)
        if input_name and input_name not in self.by_field:
            self.by_field[input_name] = text

    def add_described(self, described: Iterable[Mapping[str, str]]) -> None:
        """Problems as the API says them (common.http_errors), each beside its input."""
        for problem in described:
            text = problem["message"] if self.lang == "zh" else problem["message_en"]
            self.add(text, _input_of(problem.get("field", "")))

    def add_invalid(self, exc: ValidationError) -> None:
        self.add_described(describe_errors(exc.errors(), FIELD_LABELS))

    def add_violation(self, exc: RuleViolation) -> None:
        self.add_described(describe_violation(exc, FIELD_LABELS))

    def for_input(self, name: str) -> str:
        return self.by_field.get(name, "")


def _input_of(field_path: str) -> str:
    """The form input a problem of the API's model is about (``identity.phone`` → phone)."""
    last = field_path.split(".")[-1] if field_path else ""
    if field_path.startswith("identity") and last not in _IDENTITY:
        return "name"
    if last.isdigit():  # flags.0
        return field_path.split(".")[0]
    return last


def lead_values(form: FormData) -> dict[str, Any]:
    """What the person typed, to fill the form again when it is refused."""
    values: dict[str, Any] = {name: str(form.get(name) or "") for name in LEAD_FIELDS}
    values["flags"] = [str(flag) for flag in form.getlist("flags")]
    return values


def lead_body(values: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    """The API's body for a lead from the form's values: an empty choice is no choice,
    and a name or a phone makes the report a named one."""
    body: dict[str, Any] = {
        "category": values["category"],
        "summary": values["summary"],
        "details": values["details"],
        "village": values["village"] or None,
        "flags": list(values["flags"]),
        **more,
    }
    identity = {k: values[k] for k in ("name", "phone") if values[k].strip()}
    if identity:
        body["identity"] = identity
    return body


def parsed(model: type[M], body: Mapping[str, Any], problems: Problems) -> M | None:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems.add_invalid(exc)
        return None


def new_key() -> str:
    """A form's Idempotency-Key, made when the form is shown: sending it twice files once."""
    return secrets.token_urlsafe(24)


def key_of(form: FormData) -> str:
    """The form's Idempotency-Key, if it is one the API would take; else a new one."""
    key = text_of(form, "idempotency_key")
    return key if len(key) in _KEY_LENGTHS else new_key()


def text_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Choices:
    """The lists a lead's form offers, labelled in the page's language."""

    categories: list[tuple[str, str]]
    villages: list[tuple[str, str]]
    flags: list[tuple[str, str]]
    channels: list[tuple[str, str]]


def choices(
    org: Organisation,
    lang: Language,
    *,
    channels: Iterable[Channel] = (),
    villages: Iterable[str] | None = None,
) -> Choices:
    wanted = None if villages is None else set(villages)
    allowed = set(channels)
    return Choices(
        categories=[(c.value, label(c, lang)) for c in Category],
        villages=[
            (v.code, v.label(lang)) for v in org.villages if wanted is None or v.code in wanted
        ],
        flags=[(f.value, label(f, lang)) for f in Flag],
        channels=[(c.value, label(c, lang)) for c in Channel if c in allowed],
    )


def china_time(moment: datetime) -> str:
    """A time as people here read it, with its zone."""
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def iso(moment: datetime) -> str:
    return as_utc(moment).astimezone(CHINA).isoformat()
