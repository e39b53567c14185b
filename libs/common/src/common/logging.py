"""One structlog configuration for every service: JSON lines on stdout.

Handlers bind event id, lead id and correlation id with ``structlog.contextvars``. A last
processor drops any field named like reporter identity, so a careless ``log.info(...,
identity=...)`` cannot leak it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

import orjson
import structlog
from structlog.typing import EventDict, WrappedLogger

NEVER_LOGGED: Final = frozenset(
    {
        "identity",
        "reporter",
        "receipt",
        "name",
        "phone",
        "id_number",
        "address",
        "ip",
        "client_ip",
        "remote_addr",
        "user_agent",
        "token",
        "password",
    }
)


def drop_sensitive_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in NEVER_LOGGED.intersection(event_dict):
        event_dict[key] = "[withheld]"
    return event_dict


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Configure structlog and route the standard library's loggers through it."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        drop_sensitive_fields,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs would record the client address of public reporters.
    logging.getLogger("uvicorn.access").disabled = True
    structlog.contextvars.bind_contextvars(service=service)
