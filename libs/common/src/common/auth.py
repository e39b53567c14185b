"""Who is asking: bearer tokens mapped to a user, a role and a unit.

The users file keeps SHA-256 hashes of tokens only. Tokens are 32 random bytes, so a plain
hash is enough (no password stretching is needed for values nobody can guess).

A running service follows the file: a token replaced or removed stops working within a
second or two, with no restart. The file is replaced whole (write, then rename), so a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.accounts import Account, AccountBook
from common.events import Actor, Role
from common.sessions import CSRF_HEADER, Session, SessionSigner

log = structlog.get_logger(__name__)


class UserRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(pattern=r"^[a-z0-9._-]{2,64}$")
    display_name: str
    role: Role
    unit: str | None = None
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    display_name: str
    role: Role
    unit: str | None

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, unit=self.unit, user=self.user)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


# What tells one version of the users file from another without reading it: a rename
# changes the inode, an edit in place the modification time or the size.
_FileStamp = tuple[int, int, int]


def _stamp(path: Path) -> _FileStamp | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _read_users(path: Path) -> dict[str, UserRecord]:
    data = tomllib.loads(path.read_text("utf-8"))
    records = (UserRecord.model_validate(u) for u in data.get("users", []))
    return {record.token_sha256: record for record in records}


class Directory:
    """The users a service accepts, by token hash.

    Made from a file, it looks at the file again at most every ``recheck_seconds`` and
    reloads it when it changed. A file that no longer parses keeps the users last read
    (an operator's typo must neither lock everyone out nor let anyone in); a deleted file
    means nobody."""

    def __init__(
        self,
        records: Iterable[UserRecord],
        source: Path | None = None,
        recheck_seconds: float = 1.0,
    ) -> None:
        self._by_hash = {record.token_sha256: record for record in records}
        self._source = source
        self._recheck_seconds = recheck_seconds
        self._stamp = _stamp(source) if source is not None else None
        self._next_check = time.monotonic() + recheck_seconds
        # Authentication runs in the threadpool: one thread looks at the file at a time,
        # the others go on with the users already loaded.
        self._checking = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, recheck_seconds: float = 1.0) -> Directory:
        # Stamped before reading: a change made while reading is seen at the next look.
        directory = cls((), source=path, recheck_seconds=recheck_seconds)
        if directory._stamp is not None:
            directory._by_hash = _read_users(path)
        return directory

    def authenticate(self, token: str) -> Principal | None:
        self._follow_file()
        return self.known(token)

    def known(self, token: str) -> Principal | None:
        """The user of this token among those loaded, without looking at the file."""
        record = self._by_hash.get(hash_token(token))
        if record is None:
            return None
        return Principal(record.user, record.display_name, record.role, record.unit)

    def file_due(self) -> bool:
        """Whether the file is to be looked at again (then :meth:`authenticate`, on a
        thread: the look may read the file)."""
        return self._source is not None and time.monotonic() >= self._next_check

    def person(self, user: str) -> Principal | None:
        """The user of this name in the file, if there is one."""
        self._follow_file()
        record = next((r for r in self._by_hash.values() if r.user == user), None)
        if record is None:
            return None
        return Principal(record.user, record.display_name, record.role, record.unit)

    def people(self, unit: str) -> list[Principal]:
        """The users of the file who belong to ``unit``."""
        self._follow_file()
        return [
            Principal(r.user, r.display_name, r.role, r.unit)
            for r in self._by_hash.values()
            if r.unit == unit
        ]

    def _follow_file(self) -> None:
        if self._source is None or time.monotonic() < self._next_check:
            return
        if not self._checking.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + self._recheck_seconds
            stamp = _stamp(self._source)
            if stamp == self._stamp:
                return
            self._reload(self._source, stamp)
        finally:
            self._checking.release()

    def _reload(self, path: Path, stamp: _FileStamp | None) -> None:
        if stamp is None:
            self._by_hash, self._stamp = {}, None
            log.warning("users_file_removed", path=str(path), users=0)
            return
        try:
            by_hash = _read_users(path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
            # Remembered, so the same broken file is reported once, not every second; the
            # fix changes the stamp and is read then.
            self._stamp = stamp
            log.error(
                "users_file_unreadable",
                path=str(path),
                error=type(exc).__name__,
                # The first line says where; the rest of a validation report may quote values.
                detail=str(exc).splitlines()[0] if str(exc) else "",
                kept_users=len(self._by_hash),
            )
            return
        self._by_hash, self._stamp = by_hash, stamp
        log.info("users_file_reloaded", path=str(path), users=len(by_hash))


def write_users_file(path: Path, records: Iterable[UserRecord]) -> None:
    """Replace the users file whole: a service reading it meanwhile sees the old users or
    the new ones, never a file cut short. A new file is readable by its owner only; a
    replaced one keeps the mode it had (the services may run as another user)."""

    def quoted(value: str) -> str:
        # A JSON string is a valid TOML basic string: quotes and backslashes escaped.
        return json.dumps(value, ensure_ascii=False)

    lines = ["# API users: token hashes only. Generated; edit with care.", ""]
    for r in records:
        lines += [
            "[[users]]",
            f"user = {quoted(r.user)}",
            f"display_name = {quoted(r.display_name)}",
            f"role = {quoted(r.role.value)}",
            *([f"unit = {quoted(r.unit)}"] if r.unit else []),
            f"token_sha256 = {quoted(r.token_sha256)}",
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    # In the same directory, so that the rename stays on one file system and is atomic.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write("\n".join(lines))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


_bearer = HTTPBearer(auto_error=False, description="A staff token from the users file")


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


def _account_principal(account: Account) -> Principal:
    return Principal(account.user, account.display_name, account.role, account.unit)


def _usable(account: Account | None) -> bool:
    return account is not None and not account.disabled


def session_of(request: Request) -> tuple[Session, Account] | None:
    """The signed-in person this request's session cookie names, if the session is still
    good: signed by this service, not idle too long, not ended, and begun after the last
    change of the account (a new password, role or unit, a disabling)."""
    book: AccountBook | None = getattr(request.app.state, "accounts", None)
    signer: SessionSigner | None = getattr(request.app.state, "sessions", None)
    name: str | None = getattr(request.app.state, "session_cookie", None)
    cookie = request.cookies.get(name) if name else None
    if book is None or signer is None or not cookie:
        return None
    session = signer.decode(cookie, time.time())
    if session is None:
        return None
    account = book.account(session.user)
    if account is None or not _usable(account):
        return None
    if account.granted_since.timestamp() > session.began:
        return None
    if book.session_ended(session.session_id):
        return None
    return session, account


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def current_principal(
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """A bearer token (the users file, then the tokens issued to accounts), or a person's
    session cookie with, for a change, the CSRF token it was given.

    On the event loop while the answer is in memory (a token of the users file, the usual
    case of scripts and the benchmarks); what reads a file or the database (the file's
    second look, an account's token, a session) on a worker thread."""
    if credentials is not None:
        token = credentials.credentials
        directory = _directory(request)
        if directory.file_due():
            principal = await run_in_threadpool(directory.authenticate, token)
        else:
            principal = directory.known(token)
        if principal is None:
            principal = await run_in_threadpool(_account_token_principal, request, token)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="the token is not valid (unknown or revoked)",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return principal
    found = await run_in_threadpool(session_of, request)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="authentication required: sign in, or send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session, account = found
    if request.method in _UNSAFE and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, ""), session.csrf
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"a change made with a session carries its {CSRF_HEADER} header",
        )
    # Each use renews the cookie: a session ends only when left alone for the idle time.
    signer: SessionSigner = request.app.state.sessions
    response.set_cookie(
        request.app.state.session_cookie,
        signer.encode(signer.used(session, time.time())),
        max_age=int(signer.idle_seconds),
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        path=request.app.state.cookie_path,
    )
    # FastAPI drops a dependency's response headers when the route returns a Response of
    # its own (the hot reads do): the security-headers middleware (common.web) sends the
    # renewed cookie then, so a person at work is not signed out after the idle time.
    request.state.renewed_session = next(
        value for name, value in reversed(response.raw_headers) if name == b"set-cookie"
    )
    return _account_principal(account)


def _account_token_principal(request: Request, token: str) -> Principal | None:
    book: AccountBook | None = getattr(request.app.state, "accounts", None)
    account = book.by_token(hash_token(token)) if book else None
    if account is not None and _usable(account):
        return _account_principal(account)
    return None


def require_roles(
    *roles: Role,
) -> Callable[[Request, Response, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency admitting only the given roles; others get a 403 saying who may."""
    allowed = frozenset(roles)

    # A coroutine, so FastAPI does not send it to a worker thread and back; calling
    # current_principal itself rather than depending on it, since FastAPI works out each
    # dependency's cache key, walking its own dependencies, on every request.
    async def check(
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await current_principal(request, response, credentials)
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role.value}' may not do this; allowed: {names}",
            )
        return principal

    return check
