"""Error answers a clerk can act on.

A refused request names each field in the clerk's words (zh-CN, with English) and says
what is wrong with it; rule violations and conflicts on a lead are 422 and 409 with one
plain sentence. Nothing is published when a request is refused.

Every answer an operation can give is in the service's OpenAPI document with its real
body: routers and routes name what only they answer (``responses=errors(404, 409)``), and
what follows from an operation's shape is declared for all of them (:func:`document_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import nats.errors
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from common.errors import Gone, NotFound, NotPermitted, RuleViolation, Settled
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
    # common.query_parameters
    "query_parameter_unknown": (
        "不是本请求可用的查询参数",
        "is not a query parameter of this request",
    ),
    "query_parameter_repeated": ("只能填写一次", "may be given only once"),
}

# Named as the client spelled it, not by the label of a field that happens to share the
# name: the client sent a parameter the request does not have.
_AS_SPELLED: Final = frozenset({"query_parameter_unknown"})


class Problem(BaseModel):
    """One thing wrong with a request, said for people in both languages."""

    field: str = Field(description="The field, header or path part at fault; empty for the request")
    label: str | None = Field(default=None, description="The field's name in Chinese")
    message: str = Field(description="What is wrong, in Chinese")
    message_en: str = Field(description="What is wrong, in English")
    limit_bytes: int | None = Field(default=None, description="The size limit a body passed")


class Problems(BaseModel):
    """The answer to a request refused for what it carries: one entry per problem."""

    detail: list[Problem]


class Refusal(BaseModel):
    """The answer to a request refused for who sent it or what it names."""

    detail: str


_ANSWERS: Final[dict[int, tuple[type[BaseModel], str]]] = {
    401: (Refusal, "No token, or one that is unknown or revoked"),
    403: (Refusal, "This role may not do this (or not to this lead)"),
    404: (Refusal, "No such thing, or not one you may see"),
    409: (Problems, "Changed by someone else just now, or a keyed retry still running"),
    410: (Refusal, "Destroyed for good"),
    413: (Problems, "The body is larger than this route accepts"),
    422: (
        Problems,
        "A field, parameter or rule is not satisfied, or a query parameter the operation"
        " does not take was sent; each problem is named",
    ),
    428: (Problems, "A public request without a solved proof-of-work challenge"),
    503: (Problems, "The event log is unavailable; see Retry-After"),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers ``codes``, with their real bodies."""
    return {code: {"model": _ANSWERS[code][0], "description": _ANSWERS[code][1]} for code in codes}


def document_errors(app: FastAPI) -> None:
    """Declare in the app's OpenAPI document what follows from each operation's shape: a
    login (401, 403), a body (413); and 422 for all of them, in our shape instead of
    FastAPI's (any operation refuses a query parameter it does not declare). Read from the
    document itself, so it holds for every route, the shared ones of common.service
    included."""
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        document = make_document()
        _declare_shaped_answers(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_REF: Final = "#/components/schemas/{model}"
_FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")


def _declare_shaped_answers(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for body in (Problems, Refusal):
        schema = body.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas.setdefault(body.__name__, schema)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            codes = []
            if operation.get("security"):
                codes += [401, 403]
            if "requestBody" in operation:
                codes.append(413)
            # Any operation refuses a query parameter it does not declare
            # (common.query_parameters).
            codes.append(422)
            for code in codes:
                given = responses.get(str(code))
                if given is None or _FASTAPI_422[0] in str(given):
                    model, description = _ANSWERS[code]
                    responses[str(code)] = _response(model, description)
    if _FASTAPI_422[0] not in str(document.get("paths")):
        for name in _FASTAPI_422:
            schemas.pop(name, None)


def _response(model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PLACES: Final = frozenset({"body", "query", "path", "header", "cookie"})


def describe_errors(
    errors: Sequence[Mapping[str, Any]], labels: Mapping[str, tuple[str, str]]
) -> list[dict[str, str]]:
    """One entry per invalid field: where, its label in both languages, and what is wrong."""
    described = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        # The field as the client named it: where it was sent (body, query, path, header)
        # goes without saying; JSON that does not parse is the body's fault, not a position's.
        given_loc = tuple(error.get("loc", ()))
        location = [str(part) for part in given_loc if part not in _PLACES]
        if kind == "json_invalid":
            field = "body"
        elif given_loc[:1] == ("query",):
            field = ".".join(location)  # "" for a parameter sent without a name (?=x)
        else:
            field = ".".join(location) or "body"
        named = (
            None
            if kind in _AS_SPELLED
            else next((labels[p] for p in reversed(location) if p in labels), None)
        )
        zh_label, en_label = named or (
            (field, field) if field else ("无名称的参数", "a parameter without a name")
        )
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


def describe_violation(
    exc: RuleViolation, labels: Mapping[str, tuple[str, str]]
) -> list[dict[str, str]]:
    """A refused command as the same list an invalid body gets: naming the field, with its
    label, when the rule is about one input; one plain sentence when it is about the lead."""
    if not exc.field:
        return [{"field": "", "message": exc.message_zh, "message_en": exc.message}]
    as_input_error = {
        "loc": ("body", *exc.field.split(".")),
        "type": "value_error",
        "msg": f"Value error, {exc.message}",
        "ctx": {"zh": exc.message_zh},
    }
    return describe_errors([as_input_error], labels)


def install_error_handlers(app: FastAPI, labels: Mapping[str, tuple[str, str]]) -> None:
    """422 for invalid input and rule violations, 409 for a concurrent change of a lead;
    and all of them in the OpenAPI document."""
    document_errors(app)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": describe_errors(exc.errors(), labels)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(RuleViolation)
    async def rule_violation(_: Request, exc: RuleViolation) -> JSONResponse:
        return JSONResponse(
            {"detail": describe_violation(exc, labels)},
            status_code=status.HTTP_409_CONFLICT
            if isinstance(exc, Settled)
            else status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(Gone)
    async def gone(_: Request, exc: Gone) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_410_GONE)

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

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        if "locked" not in str(exc).lower():
            raise exc
        # SQLite's writer lock held past the busy timeout (a long write, a backup): the
        # request may have got as far as storing its event, so the answer says how to
        # retry safely rather than failing with a 500.
        return _unavailable(
            "数据库繁忙，请稍后用相同的 Idempotency-Key 重试，不会重复登记",
            "the database is busy; try again shortly with the same Idempotency-Key"
            " (a retry never records anything twice)",
        )

    @app.exception_handler(nats.errors.Error)
    @app.exception_handler(TimeoutError)
    async def broker_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return _unavailable(
            "消息服务暂时不可用，请稍后重试",
            "the event log is unavailable for the moment; try again shortly",
        )

    @app.exception_handler(HTTPException)
    async def unreadable_body(request: Request, exc: HTTPException) -> Response:
        # The frameworks' own 400s (FastAPI's, Starlette's; ours are FastAPI's subclass)
        # answer a body their parsers cannot read at all: bytes that are not UTF-8 under a
        # JSON content type, a broken multipart form. The body's fault, said like any other.
        if type(exc) is HTTPException and exc.status_code == status.HTTP_400_BAD_REQUEST:
            return JSONResponse(
                {
                    "detail": [
                        {
                            "field": "body",
                            "message": "提交的内容无法解析",
                            "message_en": f"the request body cannot be parsed ({exc.detail})",
                        }
                    ]
                },
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        # A lead is named as people know it; anything else (a notice, a task) as "this".
        what_zh, what_en = ("该线索", "this lead") if exc.kind == "lead" else ("该记录", "this")
        return JSONResponse(
            {
                "detail": [
                    {
                        "field": "",
                        "message": f"{what_zh}刚被他人修改，请刷新后重试",
                        "message_en": f"someone else changed {what_en} just now;"
                        " reload and try again",
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
