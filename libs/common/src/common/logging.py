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


def _withhold(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[withheld]" if k in NEVER_LOGGED else _withhold(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_withhold(v) for v in value]
    return value


def drop_sensitive_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace any field named like reporter identity, at any depth, before rendering."""
    for key, value in list(event_dict.items()):
        if key in NEVER_LOGGED:
            event_dict[key] = "[withheld]"
        elif isinstance(value, dict | list | tuple):
            event_dict[key] = _withhold(value)
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
    # FastStream gives its loggers a coloured text handler of their own and stops them
    # from propagating: every line must be one JSON object, through the root's handler.
    for name in list(logging.root.manager.loggerDict):
        if name == "faststream" or name.startswith("faststream."):
            own = logging.getLogger(name)
            own.handlers[:] = []
            own.propagate = True
    structlog.contextvars.bind_contextvars(service=service)
