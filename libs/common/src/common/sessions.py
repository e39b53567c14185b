"""A person's session with one service: a signed cookie.

Each service signs its own sessions with a key only it holds (``<SERVICE>_SESSION_KEY``):
a service taken over cannot mint a session for another, so the committee's service never
accepts a session the police side made. The cookie is HttpOnly, SameSite=Strict and Secure
outside development; it carries the user, a random session id, when it began, when it was
last used (renewed on each request, so a session left alone ends after the idle time) and
the CSRF token the pages send back with every change. Signing out records the session's
end on the SESSIONS stream, which every service reads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Final

import orjson

COOKIE_PREFIX: Final = "leads_session_"
CSRF_HEADER: Final = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    session_id: str
    began: float
    last_used: float
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, key: bytes, idle_seconds: float, longest_seconds: float) -> None:
        if len(key) < 32:
            raise ValueError("a session key has at least 32 bytes")
        self._key = key
        self.idle_seconds = idle_seconds
        self.longest_seconds = longest_seconds

    def begin(self, user: str, now: float) -> Session:
        return Session(user, secrets.token_urlsafe(24), now, now, secrets.token_urlsafe(24))

    def used(self, session: Session, now: float) -> Session:
        return replace(session, last_used=now)

    def encode(self, session: Session) -> str:
        payload = orjson.dumps(
            [session.user, session.session_id, session.began, session.last_used, session.csrf]
        )
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cookie: str, now: float) -> Session | None:
        """The session, or None: forged, altered, idle too long, or older than allowed."""
        if len(cookie) > 1024 or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        try:
            payload, given = _unb64(body), _unb64(signature)
        except ValueError:
            return None
        if not hmac.compare_digest(given, self._sign(payload)):
            return None
        try:
            user, session_id, began, last_used, csrf = orjson.loads(payload)
            session = Session(str(user), str(session_id), float(began), float(last_used), str(csrf))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None
        if (
            now - session.last_used > self.idle_seconds
            or now - session.began > self.longest_seconds
        ):
            return None
        if session.last_used > now + 60:  # from the future: not one this service signed
            return None
        return session

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()
