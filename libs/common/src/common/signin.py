"""Signing in and out of a service, for people (machines use bearer tokens).

POST /v1/session takes a user name, a password and, for the roles that must prove one, a
six-digit code from their authenticator app; the answer sets this service's session cookie
and gives the CSRF token that changes must carry. Attempts are throttled per account across
every service (the SESSIONS stream): after five failures in fifteen minutes each attempt
waits, the wait doubling up to fifteen minutes; the account itself is never locked, so nobody
can lock a clerk out by guessing. A wrong user name and a wrong password get the same answer
in the same time."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

import structlog
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from common.accounts import Account
from common.auth import session_of
from common.credentials import SECOND_FACTOR_ROLES, code_matches, open_secret, password_matches
from common.events import utc_now
from common.events.accounts import (
    USER_NAME,
    FailureReason,
    SessionEnded,
    SignedIn,
    SignInFailed,
)
from common.eventstore import EventStore
from common.http_errors import errors
from common.sessions import COOKIE_PREFIX, Session
from common.subjects import Stream

if TYPE_CHECKING:
    from common.service import ServiceRuntime

WRONG: Final = ("用户名或密码错误", "the user name or the password is wrong")
# How long a sign-in waits for this service to have counted every failed attempt so far.
CATCH_UP_SECONDS: Final = 2.0
log = structlog.get_logger(__name__)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(pattern=USER_NAME, description="用户名 / user name")
    password: str = Field(min_length=1, max_length=200, description="密码 / password")
    code: str | None = Field(
        default=None,
        max_length=10,
        description="身份验证器中的六位动态码（纪委、保管员、管理员必填）/ the six-digit code"
        " of the authenticator app (required for discipline, custodian and admin)",
    )


class SignedInAs(BaseModel):
    user: str
    display_name: str
    role: str
    unit: str | None
    csrf_token: str = Field(
        description="送回于每次修改的 X-CSRF-Token 头 / sent back as the"
        " X-CSRF-Token header with every change"
    )
    idle_minutes: int


def cookie_name(runtime: ServiceRuntime) -> str:
    return COOKIE_PREFIX + runtime.service.value


def _refused(code: int, zh: str, en: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(
        code, detail=[{"field": "", "message": zh, "message_en": en}], headers=headers
    )


def set_session_cookie(runtime: ServiceRuntime, response: Response, session: Session) -> None:
    signer = runtime.sessions
    response.set_cookie(
        cookie_name(runtime),
        signer.encode(session),
        max_age=int(signer.idle_seconds),
        httponly=True,
        samesite="strict",
        secure=runtime.app.state.secure_cookies,
        path=runtime.app.state.cookie_path,
    )


def sessions_log_of(runtime: ServiceRuntime) -> EventStore:
    return EventStore(runtime.js, Stream.SESSIONS, f"sessions.{runtime.service.value}")


async def _failed(runtime: ServiceRuntime, account: Account, why: FailureReason) -> None:
    await sessions_log_of(runtime).append(SignInFailed(user=account.user, why=why))


async def _caught_up(runtime: ServiceRuntime) -> None:
    """Wait (briefly) until every sign-in recorded so far, at any service, is counted here:
    a guesser must not outrun the projection by trying fast."""
    last = (await runtime.js.stream_info(Stream.SESSIONS.value)).state.last_seq
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_SECONDS
    while await asyncio.to_thread(runtime.accounts.applied, Stream.SESSIONS) < last:
        if loop.time() > deadline:
            log.warning("sign_in_failures_not_caught_up", last=last)
            return
        await asyncio.sleep(0.01)


async def sign_in_person(
    runtime: ServiceRuntime, user: str, password: str, code: str | None
) -> tuple[Session, Account]:
    """The one way a person signs in (the API and the sign-in page): the account checked,
    throttled, its password and code verified, the session begun and recorded. A refusal
    is an HTTPException whose detail says why in both languages."""
    book = runtime.accounts
    account = await asyncio.to_thread(book.account, user)
    if account is not None:
        await _caught_up(runtime)
        wait = await asyncio.to_thread(book.wait_before_next_attempt, account.user, utc_now())
        if wait.total_seconds() > 0:
            seconds = int(wait.total_seconds()) + 1
            raise _refused(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"登录尝试过多，请 {seconds} 秒后再试",
                f"too many sign-in attempts: try again in {seconds} seconds",
                {"Retry-After": str(seconds)},
            )
    known_hash = account.password_hash if account is not None and account.kind == "person" else None
    # Hashed off the event loop: argon2id takes tens of milliseconds by design.
    if not await asyncio.to_thread(password_matches, known_hash, password):
        if known_hash is not None and account is not None:
            # Counted only where there is a password to guess.
            await _failed(runtime, account, "password")
        raise _refused(status.HTTP_401_UNAUTHORIZED, *WRONG)
    assert account is not None  # noqa: S101 - a hash matched, so the account exists
    if account.disabled:
        await _failed(runtime, account, "disabled")
        raise _refused(status.HTTP_403_FORBIDDEN, "该账户已停用", "this account is disabled")
    if account.role in SECOND_FACTOR_ROLES:
        secret = (
            open_secret(runtime.settings.accounts_key_bytes, account.user, account.sealed_secret)
            if account.sealed_secret
            else None
        )
        if secret is None:
            await _failed(runtime, account, "no_second_factor")
            raise _refused(
                status.HTTP_403_FORBIDDEN,
                "该角色须使用动态码登录，尚未设置：请联系管理员",
                f"role '{account.role.value}' signs in with a second factor, and none is"
                " set up: ask the administrator",
            )
        if code is None or not code_matches(secret, code):
            await _failed(runtime, account, "second_factor")
            raise _refused(
                status.HTTP_401_UNAUTHORIZED,
                "动态码错误或已过期",
                "the code is wrong or expired",
                {"WWW-Authenticate": 'Session realm="second-factor"'},
            )
    session = runtime.sessions.begin(account.user, time.time())
    await sessions_log_of(runtime).append(
        SignedIn(user=account.user, session_id=session.session_id, service=runtime.service.value)
    )
    return session, account


def signin_routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1/session", tags=["session"])

    def sessions_log() -> EventStore:
        return sessions_log_of(runtime)

    @router.post(
        "",
        summary="登录 / Sign in with a user name, a password and, where required, a code",
        response_model=SignedInAs,
        responses={
            **errors(503),
            401: {"description": "用户名、密码或动态码错误 / wrong user name, password or code"},
            403: {"description": "账户已停用或未设置动态码 / disabled, or no second factor set"},
            429: {"description": "尝试过多，请稍后再试 / too many attempts: wait (Retry-After)"},
        },
    )
    async def sign_in(body: SignIn, response: Response) -> SignedInAs:
        session, account = await sign_in_person(runtime, body.user, body.password, body.code)
        set_session_cookie(runtime, response, session)
        return SignedInAs(
            user=account.user,
            display_name=account.display_name,
            role=account.role.value,
            unit=account.unit,
            csrf_token=session.csrf,
            idle_minutes=int(runtime.sessions.idle_seconds // 60),
        )

    @router.get(
        "",
        summary="当前登录 / Who is signed in here, with the CSRF token to send back",
        response_model=SignedInAs,
        responses={401: {"description": "未登录 / not signed in"}},
    )
    async def who(request: Request) -> SignedInAs:
        found = await asyncio.to_thread(session_of, request)
        if found is None:
            raise _refused(status.HTTP_401_UNAUTHORIZED, "未登录或登录已过期", "not signed in")
        session, account = found
        return SignedInAs(
            user=account.user,
            display_name=account.display_name,
            role=account.role.value,
            unit=account.unit,
            csrf_token=session.csrf,
            idle_minutes=int(runtime.sessions.idle_seconds // 60),
        )

    @router.delete(
        "",
        summary="退出登录 / Sign out: the session is refused by every service from now on",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=errors(503),
    )
    async def sign_out(request: Request) -> Response:
        found = await asyncio.to_thread(session_of, request)
        if found is not None:
            session, account = found
            await sessions_log().append(
                SessionEnded(user=account.user, session_id=session.session_id)
            )
        answer = Response(status_code=status.HTTP_204_NO_CONTENT)
        answer.delete_cookie(cookie_name(runtime), path=runtime.app.state.cookie_path)
        return answer

    return router
