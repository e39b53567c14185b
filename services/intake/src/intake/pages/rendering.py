"""Rendering intake's pages on the shared templates, and the signed-in person's session."""

from __future__ import annotations

import time
from typing import Any, Final, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from common.service import ServiceRuntime
from common.sessions import Session
from common.signin import set_session_cookie
from common.web import Language
from intake.application import Intake
from intake.pages.forms import china_time, iso

STATIC_PATH: Final = "/static/intake"

R = TypeVar("R", bound=Response)


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def render(
    request: Request, template: str, lang: Language, status_code: int = 200, **context: Any
) -> HTMLResponse:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.pages.render(
        request,
        template,
        lang,
        status_code,
        when=china_time,
        iso=iso,
        own_static=STATIC_PATH,
        lang_query="" if lang == "zh" else "?lang=en",
        **context,
    )


def renewed(request: Request, response: R, session: Session) -> R:
    """Each use of a staff page renews the session, as each use of the API does."""
    runtime: ServiceRuntime = request.app.state.runtime
    set_session_cookie(runtime, response, runtime.sessions.used(session, time.time()))
    return response
