"""Who is asking: bearer tokens mapped to a user, a role and a unit.

The users file keeps SHA-256 hashes of tokens only. Tokens are 32 random bytes, so a plain
hash is enough (no password stretching is needed for values nobody can guess).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from common.events import Actor, Role


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


class Directory:
    """The users a service accepts, by token hash."""

    def __init__(self, records: Iterable[UserRecord]) -> None:
        self._by_hash = {record.token_sha256: record for record in records}

    @classmethod
    def from_file(cls, path: Path) -> Directory:
        if not path.exists():
            return cls(())
        data = tomllib.loads(path.read_text("utf-8"))
        return cls(UserRecord.model_validate(u) for u in data.get("users", []))

    def authenticate(self, token: str) -> Principal | None:
        record = self._by_hash.get(hash_token(token))
        if record is None:
            return None
        return Principal(record.user, record.display_name, record.role, record.unit)


def write_users_file(path: Path, records: Iterable[UserRecord]) -> None:
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
    path.write_text("\n".join(lines), "utf-8")


_bearer = HTTPBearer(auto_error=False, description="A staff token from the users file")


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="authentication required: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = _directory(request).authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="the token is not valid (unknown or revoked)",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles; others get a 403 saying who may."""
    allowed = frozenset(roles)

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role.value}' may not do this; allowed: {names}",
            )
        return principal

    return check
