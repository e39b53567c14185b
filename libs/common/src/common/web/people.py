"""Signing in and out on a page, and who is signed in: for every service's pages."""

from __future__ import annotations

import asyncio
import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from common.accounts import Account
from common.auth import Principal, session_of
from common.events import utc_now
from common.events.accounts import SessionEnded
from common.sessions import Session
from common.signin import sessions_log_of, set_session_cookie, sign_in_person
from common.subjects import Stream
from common.times import CHINA
from common.web import Language

if TYPE_CHECKING:
    from common.service import ServiceRuntime

LangQuery = Annotated[Language, Query(description="页面语言 / page language")]


class SignInNeeded(Exception):
    """A staff page asked for by nobody signed in: answered with the sign-in page."""


def principal_of(account: Account) -> Principal:
    return Principal(account.user, account.display_name, account.role, account.unit)


def signed_in(request: Request) -> tuple[Session, Account]:
    """The person signed in on this page, or SignInNeeded. The session is renewed by the
    page's answer (Pages.render), so working on pages keeps it going as the API does."""
    found = session_of(request)
    if found is None:
        raise SignInNeeded
    request.state.renew_session = found[0]
    return found


def check_form(session: Session, csrf_token: str) -> None:
    """A form a page of this service made for this session (not one posted from elsewhere)."""
    if not hmac.compare_digest(csrf_token, session.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the form is stale: reload the page")


def _root(request: Request) -> str:
    """The prefix an ingress serves this service at ("" when served at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _safe_next(target: str) -> str:
    """Only a path of this service: never a redirect to another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/desk"
    return target


def people_pages(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = runtime.pages

    @router.get("/sign-in")
    async def sign_in_page(
        request: Request,
        lang: LangQuery = "zh",
        next: Annotated[str, Query(max_length=300)] = "/desk",
    ) -> Response:
        return pages.render(request, "sign_in.html", lang, next=_safe_next(next), problem=None)

    @router.post("/sign-in")
    async def sign_in(
        request: Request,
        user: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=200)],
        code: Annotated[str, Form(max_length=10)] = "",
        next: Annotated[str, Form(max_length=300)] = "/desk",
        lang: LangQuery = "zh",
    ) -> Response:
        try:
            session, _ = await sign_in_person(runtime, user.strip(), password, code or None)
        except HTTPException as refused:
            detail: Any = refused.detail
            problem = (
                detail[0]["message" if lang == "zh" else "message_en"]
                if isinstance(detail, list)
                else str(detail)
            )
            return pages.render(
                request,
                "sign_in.html",
                lang,
                status_code=refused.status_code,
                next=_safe_next(next),
                problem=problem,
                user=user,
            )
        target = _root(request) + _safe_next(next)
        if lang == "en":
            target += ("&" if "?" in target else "?") + "lang=en"
        answer = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
        set_session_cookie(runtime, answer, session)
        return answer

    @router.post("/sign-out")
    async def sign_out(
        request: Request, csrf_token: Annotated[str, Form(max_length=100)], lang: LangQuery = "zh"
    ) -> Response:
        found = session_of(request)
        if found is not None:
            session, account = found
            check_form(session, csrf_token)
            await sessions_log_of(runtime).append(
                SessionEnded(user=account.user, session_id=session.session_id)
            )
        answer = RedirectResponse(
            _root(request) + "/sign-in" + ("" if lang == "zh" else "?lang=en"),
            status_code=status.HTTP_303_SEE_OTHER,
        )
        answer.delete_cookie(request.app.state.session_cookie, path=request.app.state.cookie_path)
        return answer

    @router.get("/sessions")
    async def my_sessions(request: Request, lang: LangQuery = "zh") -> Response:
        """Where the person is signed in, in every service, and a button to end each."""
        session, account = signed_in(request)
        since = utc_now() - timedelta(seconds=runtime.sessions.longest_seconds)
        seen = await asyncio.to_thread(runtime.accounts.sessions_of, account.user, since)
        return pages.render(
            request,
            "sessions.html",
            lang,
            person=account,
            csrf_token=session.csrf,
            current=session.session_id,
            sessions=seen,
            china=CHINA,
        )

    @router.post("/sessions/end")
    async def end_session(
        request: Request,
        csrf_token: Annotated[str, Form(max_length=100)],
        session_id: Annotated[str, Form(max_length=64)],
        lang: LangQuery = "zh",
    ) -> Response:
        session, account = signed_in(request)
        check_form(session, csrf_token)
        since = utc_now() - timedelta(seconds=runtime.sessions.longest_seconds)
        mine = await asyncio.to_thread(runtime.accounts.sessions_of, account.user, since)
        # Only one's own sessions: another person's id is as good as none.
        if any(s.session_id == session_id and s.ended is None for s in mine):
            appended = await sessions_log_of(runtime).append(
                SessionEnded(user=account.user, session_id=session_id)
            )
            # The list shown next says it ended: wait (briefly) for this service to know.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0
            while (
                await asyncio.to_thread(runtime.accounts.applied, Stream.SESSIONS)
                < appended.sequence
            ):
                if loop.time() > deadline:
                    break
                await asyncio.sleep(0.01)
        return RedirectResponse(
            _root(request) + "/sessions" + ("" if lang == "zh" else "?lang=en"),
            status_code=status.HTTP_303_SEE_OTHER,
        )

    return router
