"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

import base64
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

import structlog
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from common.subjects import Service
from common.tls import VERIFYING_SSLMODES, client_context, sslmode

log = structlog.get_logger(__name__)

# Values that mean "nobody set this": refused outside development (compared in lower case).
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "changethis", "password", "secret", "dev"}
)


def _key(secret: SecretStr, name: str) -> bytes:
    try:
        key = base64.b64decode(secret.get_secret_value(), validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    # AES-256 takes exactly 32 bytes; an HMAC key may be longer.
    if len(key) < 32 or (name == "accounts_key" and len(key) != 32):
        raise ValueError(
            f"{name} must be 32 bytes" + (" or more" if name != "accounts_key" else "")
        )
    return key


def is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDER_SECRETS


def degenerate(name: str) -> str:
    """Why a key of one byte repeated (all zeros, say) is refused in production: it is a
    placeholder, not a secret."""
    return (
        f"{name} is one byte repeated, which anyone can guess: generate a random one"
        " (openssl rand -base64 32)"
    )


class ServiceSettings(BaseSettings):
    """Connection and runtime settings of one service (env prefix ``<SERVICE>_``)."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    service: Service
    environment: Literal["development", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=1, le=65535)
    #: processes serving HTTP on the one port, each a whole replica of the service (its
    #: own connection, audit group commit, projection runners standing by under the lease)
    http_workers: int = Field(default=1, ge=1, le=64)
    nats_url: str = "nats://127.0.0.1:4333"
    nats_user: str | None = None
    nats_password: SecretStr = SecretStr("")
    #: the CA that signed the NATS servers' certificates (PEM): when set, the service speaks
    #: TLS to NATS and refuses a server the CA did not sign. Required in production, where
    #: the NATS password would otherwise cross the network in clear
    nats_tls_ca_file: Path | None = None
    database_url: str = ""
    stream_replicas: int = Field(default=1, ge=1, le=5)
    users_file: Path = Path("var/demo/users.toml")
    org_file: Path | None = None
    log_level: str = "INFO"
    projection_batch_size: int = Field(default=500, ge=1, le=10_000)
    #: the largest request body read, in bytes, where no route says otherwise. The largest
    #: public report (every text field full, in characters JSON escapes to 12 bytes each:
    #: Chinese outside the BMP) is about 180 KB; 256 KiB holds it with room to spare.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    #: opens the second-factor secrets of people's accounts (32 bytes, base64): the same in
    #: every service and in ``leadctl accounts``, which seals them. Unset: nobody whose role
    #: needs a second factor can sign in (development only)
    accounts_key: SecretStr = SecretStr("")
    #: signs this service's session cookies (32 bytes or more, base64), held by this service
    #: alone so that no other can mint its sessions. Unset in development: a new one each
    #: start (everyone signs in again)
    session_key: SecretStr = SecretStr("")
    #: a session left alone this long ends; none lasts longer than session_longest_hours
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: the path prefix an ingress serves this service at on one host name (e.g. "/ledger"),
    #: which the ingress strips; links and redirects of the pages are made under it
    root_path: str = Field(default="", pattern=r"^(/[a-z0-9-]+)*$")
    #: where people reach each service's pages (one host behind an ingress in deployment);
    #: a service missing here is linked at its default port on this host
    site_urls: dict[Service, str] = Field(default_factory=dict)
    session_longest_hours: int = Field(default=12, ge=1, le=24 * 7)

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite:///var/{self.service.value}/{self.service.value}.db"
        if self.nats_user is None:
            self.nats_user = self.service.value
        if self.nats_tls_ca_file is not None:
            client_context(self.nats_tls_ca_file)  # a missing or broken CA file, said now
        keys = {
            name: _key(value, name)
            for name in ("accounts_key", "session_key")
            if (value := getattr(self, name)).get_secret_value()
        }
        if self.environment == "production":
            problems = self._production_problems(keys)
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        elif not self.users_file.is_file():
            log.warning(
                "users_file_missing",
                users_file=str(self.users_file),
                consequence="no API users: every token is refused",
            )
        return self

    def _production_problems(self, keys: dict[str, bytes]) -> list[str]:
        """What production refuses to start with, each named by its setting, all at once so
        that one attempt shows the operator everything to fix. A service with secrets of
        its own adds its own."""
        problems = []
        if is_placeholder(self.nats_password.get_secret_value()):
            problems.append("nats_password must be set to a real secret in production")
        if self.nats_tls_ca_file is None:
            problems.append(
                "nats_tls_ca_file must be set in production (the CA of the NATS servers'"
                " certificates): without TLS the NATS password crosses the network in clear"
            )
        if self.database_url.startswith("sqlite"):
            problems.append("production needs a PostgreSQL database_url")
        else:
            url = make_url(self.database_url)
            if url.password is not None and is_placeholder(url.password):
                problems.append(
                    "database_url carries a placeholder password: set the database role's real one"
                )
            if sslmode(url) not in VERIFYING_SSLMODES:
                problems.append(
                    "database_url must ask for TLS that checks the server in production:"
                    " add ?sslmode=verify-full&sslrootcert=<the CA file> (or sslmode=verify-ca)"
                )
        if not self.accounts_key.get_secret_value() or not self.session_key.get_secret_value():
            problems.append("production needs accounts_key and session_key")
        for name, key in keys.items():
            if len(set(key)) == 1:
                problems.append(degenerate(name))
        if not self.users_file.is_file():
            problems.append(
                f"users_file {self.users_file} does not exist: the service would run with no"
                " API users at all (create it with leadctl add-user, or mount it)"
            )
        return problems

    def site_url(self, service: Service) -> str:
        return self.site_urls.get(service, service.default_url).rstrip("/")

    @property
    def accounts_key_bytes(self) -> bytes:
        return (
            _key(self.accounts_key, "accounts_key") if self.accounts_key.get_secret_value() else b""
        )

    @property
    def session_key_bytes(self) -> bytes:
        if not self.session_key.get_secret_value():
            return self._development_session_key
        return _key(self.session_key, "session_key")

    @cached_property
    def _development_session_key(self) -> bytes:
        return secrets.token_bytes(32)

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
