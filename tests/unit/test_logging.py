"""The one logging configuration: JSON lines, and reporter identity never written."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import structlog

from common.logging import configure_logging


@contextmanager
def configured_logging() -> Iterator[io.StringIO]:
    """Logging configured for a test service, its one handler writing to a buffer we read.

    Used inside the test body (not a fixture) so that the root handlers put back afterwards
    are the ones of the same test phase, pytest's own capture handlers included."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access = logging.getLogger("uvicorn.access")
    access_disabled = access.disabled
    configure_logging("test")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        access.disabled = access_disabled
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_a_log_call_is_written_as_one_json_line_with_service_and_level() -> None:
    with configured_logging() as out:
        structlog.get_logger("lead").info("lead registered", lead_id="lead-1")
    [line] = _lines(out)
    assert line["event"] == "lead registered"
    assert line["lead_id"] == "lead-1"
    assert line["service"] == "test"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_reporter_identity_and_receipt_are_withheld_from_the_log() -> None:
    with configured_logging() as out:
        structlog.get_logger("intake").info(
            "report accepted", identity="张三 13800000000", receipt="ABCD", lead_id="lead-2"
        )
    text = out.getvalue()
    assert "张三" not in text
    assert "13800000000" not in text
    assert "ABCD" not in text
    [line] = _lines(out)
    assert line["identity"] == "[withheld]"
    assert line["receipt"] == "[withheld]"
    assert line["lead_id"] == "lead-2"


def test_a_standard_library_log_record_is_written_as_json_too() -> None:
    with configured_logging() as out:
        logging.getLogger("somelib").warning("disk nearly full")
    [line] = _lines(out)
    assert line["event"] == "disk nearly full"
    assert line["level"] == "warning"
    assert line["service"] == "test"


def test_context_bound_by_a_handler_appears_on_every_line() -> None:
    with (
        configured_logging() as out,
        structlog.contextvars.bound_contextvars(correlation_id="corr-9"),
    ):
        structlog.get_logger().info("first")
        structlog.get_logger().info("second")
    assert [line["correlation_id"] for line in _lines(out)] == ["corr-9", "corr-9"]


def test_debug_lines_are_dropped_at_the_default_level() -> None:
    with configured_logging() as out:
        structlog.get_logger().debug("noise")
        structlog.get_logger().info("signal")
    assert [line["event"] for line in _lines(out)] == ["signal"]


def test_access_logs_are_switched_off_because_they_hold_client_addresses() -> None:
    with configured_logging():
        assert logging.getLogger("uvicorn.access").disabled


def test_the_logging_configuration_is_put_back_after_each_test() -> None:
    before = logging.getLogger().handlers[:]
    with configured_logging():
        pass
    assert logging.getLogger().handlers == before


def test_faststreams_own_coloured_loggers_write_json_through_the_one_handler() -> None:
    # As FastStream sets its loggers up at import: a coloured handler, no propagation.
    own = logging.getLogger("faststream.access.test")
    coloured = logging.StreamHandler(io.StringIO())
    own.addHandler(coloured)
    own.propagate = False
    try:
        with configured_logging() as buffer:
            structlog.get_logger("faststream.access.test").info("consume waiting", subject="s")
            own.info("a plain line from FastStream")
        lines = [orjson.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        own.handlers[:] = []
        own.propagate = True
    assert [line["event"] for line in lines] == [
        "consume waiting",
        "a plain line from FastStream",
    ]
    assert coloured.stream.getvalue() == ""
