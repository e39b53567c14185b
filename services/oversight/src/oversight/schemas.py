"""What the oversight API accepts."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.times import Deadline
from common.vocabulary import Conclusion

FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "reason": ("理由", "reason"),
    "unit": ("承办单位", "handling unit"),
    "deadline": ("督办时限", "deadline"),
    "level": ("督办层级", "level"),
    "gang_lead_id": ("涉黑涉恶线索", "gang lead"),
    "person": ("责任人", "responsible person"),
    "kind": ("处理方式", "kind"),
    "form": ("四种形态", "four-forms level"),
    "result": ("处理结果", "result"),
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SuperviseIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class ListSupervisionIn(_In):
    unit: str = Field(min_length=2, max_length=40)
    deadline: Deadline
    level: Literal["town", "county"] = "town"


class EscalateIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class LinkIn(_In):
    gang_lead_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class AccountabilityIn(_In):
    person: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=2, max_length=40)
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str = Field(min_length=2, max_length=2000)


class OutcomeIn(_In):
    result: Conclusion
