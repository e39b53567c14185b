"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.subjects import Service

# Values that mean "nobody set this": refused outside development.
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "changethis", "password", "secret", "dev"}
)


class ServiceSettings(BaseSettings):
    """Connection and runtime settings of one service (env prefix ``<SERVICE>_``)."""

    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    service: Service
    environment: Literal["development", "production"] = "development"
    http_host: str = "127.0.0.1"
    http_port: int = Field(ge=1, le=65535)
    nats_url: str = "nats://127.0.0.1:4333"
    nats_user: str | None = None
    nats_password: SecretStr = SecretStr("")
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

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite:///var/{self.service.value}/{self.service.value}.db"
        if self.nats_user is None:
            self.nats_user = self.service.value
        if self.environment == "production":
            if self.nats_password.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError("nats_password must be set to a real secret in production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs a PostgreSQL database_url")
        return self

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
