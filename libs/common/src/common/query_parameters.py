"""A query parameter a route does not declare is refused, never ignored.

FastAPI ignores what it was not asked for: ``GET /v1/ledger/leads?ledger_number=SHD-...``,
before the list took that filter, answered the whole ledger, and a clerk took its first row
for the lead searched for; a typo (``?staus=``) filters nothing. Every route of every service refuses such a request with a
422 naming the parameter, as any other input error (common.http_errors).

A scalar parameter given twice (``?page=1&page=2``) is refused as well: FastAPI would take
the last one silently, and two values for a filter that takes one is a question the answer
cannot honour. A parameter typed as a list takes any number.

What a route accepts is read from what it declares, its dependencies' parameters and
aliases included (the ledger's filters, ``from`` and ``to``): the same parameters its OpenAPI
document lists. The check is a dependency of the whole app, so it runs on every operation
a service adds, before any other (a request with an unknown parameter is refused even
without a token: which parameters a route takes is public in its document).

Routes it never sees are FastAPI's own documentation pages (:data:`UNCHECKED`): they are
not operations, and the OAuth redirect page takes whatever an authorisation server sends.
"""

from __future__ import annotations

import types
import typing
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Depends, FastAPI, Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AliasChoices

UNKNOWN: Final = "query_parameter_unknown"
REPEATED: Final = "query_parameter_repeated"

#: Paths served by plain Starlette routes FastAPI adds itself, which this check does not
#: reach: documentation, not operations (a test asserts no service has any other).
UNCHECKED: Final = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

_SEQUENCES: Final = (list, tuple, set, frozenset, Sequence, Set)


@dataclass(frozen=True)
class Accepted:
    """The query parameters of one route, by the name a client sends."""

    single: frozenset[str]
    many: frozenset[str]

    def problems(self, given: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """One input error per parameter not declared, and per scalar one given twice."""
        found = []
        for name, count in Counter(name for name, _ in given).items():
            if name not in self.single and name not in self.many:
                found.append(_error(UNKNOWN, name, "is not a query parameter of this request"))
            elif count > 1 and name in self.single:
                found.append(_error(REPEATED, name, "may be given only once"))
        return found


def accepted(route: APIRoute) -> Accepted:
    """What ``route`` declares, read once and kept on the route."""
    known: Accepted | None = route.__dict__.get("_accepted_query_parameters")
    if known is None:
        single: set[str] = set()
        many: set[str] = set()
        for field in get_flat_params(route.dependant):
            if not isinstance(field.field_info, params.Query):
                continue
            names = _names(field.alias, field.field_info.validation_alias)
            (many if _takes_many(field.field_info.annotation) else single).update(names)
        known = Accepted(single=frozenset(single), many=frozenset(many))
        route.__dict__["_accepted_query_parameters"] = known
    return known


async def refuse_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        # Only an operation runs dependencies, and FastAPI names it in the scope: should it
        # stop doing so, every request fails here rather than every check passing unseen.
        raise RuntimeError("the operation answering this request is not in its scope")
    found = accepted(route).problems(request.query_params.multi_items())
    if found:
        raise RequestValidationError(found)


def forbid_unknown_query_parameters(app: FastAPI) -> None:
    """Refuse, on every operation ``app`` has or is given later, a query parameter it does
    not declare. Call before any router is included."""
    app.router.dependencies.insert(0, Depends(refuse_unknown_query_parameters))


def _names(alias: str, validation_alias: object) -> set[str]:
    if isinstance(validation_alias, str):
        return {validation_alias}
    if isinstance(validation_alias, AliasChoices):
        return {choice for choice in validation_alias.choices if isinstance(choice, str)}
    return {alias}


def _takes_many(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return any(_takes_many(arg) for arg in typing.get_args(annotation))
    candidate = origin or annotation
    # Text is a sequence of characters, and so is every str enum: one value each.
    return (
        isinstance(candidate, type)
        and issubclass(candidate, _SEQUENCES)
        and not issubclass(candidate, (str, bytes))
    )


def _error(kind: str, name: str, message: str) -> dict[str, Any]:
    return {"type": kind, "loc": ("query", name), "msg": message, "input": name}
