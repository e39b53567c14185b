"""Error answers a clerk can act on.

A refused request names each field in the clerk's words (zh-CN, with English) and says
what is wrong with it; rule violations and conflicts on a lead are 422 and 409 with one
plain sentence. Nothing is published when a request is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import nats.errors
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from common.errors import NotFound, NotPermitted, RuleViolation
from common.eventstore import AppendOutcomeUnknown, ConcurrencyConflict, LogUnavailable

_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "missing": ("必须填写", "is required"),
    "string_too_short": ("太短", "is too short"),
    "string_too_long": ("太长", "is too long"),
    "too_long": ("条目太多", "has too many entries"),
    "enum": ("不是可选的值", "is not one of the allowed values"),
    "literal_error": ("不是可选的值", "is not one of the allowed values"),
    "string_pattern_mismatch": ("格式不正确", "is not in the expected format"),
    "int_parsing": ("必须是整数", "must be a whole number"),
    "greater_than_equal": ("数值太小", "is too small"),
    "less_than_equal": ("数值太大", "is too large"),
    "datetime_parsing": ("不是有效的时间", "is not a valid time"),
    "timezone_aware": ("时间必须带时区", "must carry a time zone"),
    "extra_forbidden": ("不是可填写的项目", "is not a field of this form"),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "model_attributes_type": ("格式不正确", "is not in the expected format"),
    "dict_type": ("格式不正确", "is not in the expected format"),
    "list_type": ("必须是列表", "must be a list"),
    "string_type": ("必须是文字", "must be text"),
    "bool_type": ("必须是“是”或“否”", "must be true or false"),
    "value_error": ("不符合要求", "is not acceptable"),
}


def describe_errors(
    errors: Sequence[Mapping[str, Any]], labels: Mapping[str, tuple[str, str]]
) -> list[dict[str, str]]:
    """One entry per invalid field: where, its label in both languages, and what is wrong."""
    described = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        field = ".".join(location) or "body"
        named = next((labels[p] for p in reversed(location) if p in labels), None)
        zh_label, en_label = named or (field, field)
        kind = str(error.get("type", "value_error"))
        zh_text, en_text = _MESSAGES.get(kind, ("不符合要求", "is not acceptable"))
        detail = str(error.get("msg", ""))
        if kind == "value_error" and detail.startswith("Value error, "):
            en_text = detail.removeprefix("Value error, ")
        context = error.get("ctx") or {}
        if isinstance(context, Mapping) and context.get("zh"):
            zh_text = str(context["zh"])
        described.append(
            {
                "field": field,
                "label": zh_label,
                "message": f"{zh_label}：{zh_text}"
                if context_zh(error)
                else f"{zh_label}{zh_text}",
                "message_en": f"{en_label} {en_text}",
            }
        )
    return described


def context_zh(error: Mapping[str, Any]) -> bool:
    context = error.get("ctx") or {}
    return isinstance(context, Mapping) and bool(context.get("zh"))


def field_error(field: str, message: str, message_zh: str) -> RequestValidationError:
    """A 422 naming one field, for a rule only the service can check (e.g. a village that
    is not in the organisation)."""
    return RequestValidationError(
        [
            {
                "loc": ("body", field),
                "type": "value_error",
                "msg": f"Value error, {message}",
                "ctx": {"zh": message_zh},
            }
        ]
    )


def install_error_handlers(app: FastAPI, labels: Mapping[str, tuple[str, str]]) -> None:
    """422 for invalid input and rule violations, 409 for a concurrent change of a lead."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": describe_errors(exc.errors(), labels)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(RuleViolation)
    async def rule_violation(_: Request, exc: RuleViolation) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"field": "", "message": exc.message_zh, "message_en": exc.message}]},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(NotPermitted)
    async def not_permitted(_: Request, exc: NotPermitted) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_403_FORBIDDEN)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc) or "no such lead"}, status_code=status.HTTP_404_NOT_FOUND
        )

    @app.exception_handler(AppendOutcomeUnknown)
    async def outcome_unknown(_: Request, exc: AppendOutcomeUnknown) -> JSONResponse:
        return _unavailable(
            "消息服务未确认是否已保存：可能已经保存。请用相同的 Idempotency-Key 重试，不会重复登记",
            "the event log did not confirm the write: it may have been stored. Retry with"
            " the same Idempotency-Key; a retry never records it twice",
        )

    @app.exception_handler(LogUnavailable)
    async def log_unavailable(_: Request, exc: LogUnavailable) -> JSONResponse:
        return _unavailable(
            "消息服务暂时不可用，未作任何保存，请稍后重试",
            "the event log is unavailable for the moment; nothing was stored. Try again shortly",
        )

    @app.exception_handler(nats.errors.Error)
    @app.exception_handler(TimeoutError)
    async def broker_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return _unavailable(
            "消息服务暂时不可用，请稍后重试",
            "the event log is unavailable for the moment; try again shortly",
        )

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return JSONResponse(
            {
                "detail": [
                    {
                        "field": "",
                        "message": "该线索刚被他人修改，请刷新后重试",
                        "message_en": "someone else changed this lead just now; reload and try again",
                    }
                ]
            },
            status_code=status.HTTP_409_CONFLICT,
        )


RETRY_AFTER_SECONDS: Final = 5


def _unavailable(message_zh: str, message_en: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"field": "", "message": message_zh, "message_en": message_en}]},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
