"""The event codec as properties over generated data: every event of every class made from
its own published JSON schema round-trips; no bytes, JSON or near-miss of a real event gets
anything out of the decoder but an event or an EventDecodeError (a consumer parks on that
and goes on; anything else would stop it); every version 1 assignment is upcast to a valid
current one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.events import BY_TYPE, EVENT_CLASSES, Event, EventDecodeError, decode, encode
from common.events.catalogue import ResponsibilityAssigned

# Bounded and repeatable: these run with the unit tests, on every commit.
FAST = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CHINA = timezone(timedelta(hours=8))

# Integers past 64 bits and NaN too: what a broker message may carry is any bytes.
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """JSON values valid for the parts of JSON Schema pydantic writes for our events."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string" and schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
    if kind == "string" and schema.get("format") == "date":
        return st.dates().map(date.isoformat)
    if kind == "string" and "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 30))
    if kind == "integer":
        # Unbounded where the contract is: a count JSON would not carry back (2**64) must
        # be refused when the event is built, or this round trip fails.
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema["items"], defs), max_size=3)
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", ()))
        fields = {name: from_schema(sub, defs) for name, sub in schema["properties"].items()}
        return st.fixed_dictionaries(
            {n: s for n, s in fields.items() if n in required},
            optional={n: s for n, s in fields.items() if n not in required},
        )
    if kind == "object":
        values = from_schema(schema.get("additionalProperties", {"type": "string"}), defs)
        return st.dictionaries(st.text(max_size=10), values, max_size=3)
    raise AssertionError(f"no strategy for the schema {schema}")


@cache
def events_of(cls: type[Event]) -> st.SearchStrategy[Event]:
    schema = cls.model_json_schema()
    return from_schema(schema, schema.get("$defs", {})).map(cls.model_validate)


ANY_EVENT = st.sampled_from(EVENT_CLASSES).flatmap(events_of)
EVENT_TYPES = st.sampled_from([None, *BY_TYPE, "LeadTeleported"])


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda cls: cls.__name__)
@FAST
@given(data=st.data())
def test_every_event_of_every_class_decodes_to_an_equal_event(
    cls: type[Event], data: st.DataObject
) -> None:
    event = data.draw(events_of(cls))
    assert decode(encode(event), cls.type_name()) == event
    assert decode(encode(event)) == event


def _decodes_or_refuses(payload: bytes, event_type: str | None) -> None:
    try:
        event = decode(payload, event_type)
    except EventDecodeError:
        return
    assert isinstance(event, Event)
    if event_type is not None:
        assert event.event_type == event_type


@FAST
@given(payload=st.binary(max_size=200), event_type=EVENT_TYPES)
def test_arbitrary_bytes_are_an_event_or_an_event_decode_error(
    payload: bytes, event_type: str | None
) -> None:
    _decodes_or_refuses(payload, event_type)


@FAST
@given(value=JSON_VALUES, event_type=EVENT_TYPES)
def test_arbitrary_json_is_an_event_or_an_event_decode_error(
    value: object, event_type: str | None
) -> None:
    _decodes_or_refuses(json.dumps(value).encode(), event_type)


@st.composite
def near_misses(draw: st.DrawFn) -> dict[str, Any]:
    """A real event with one field changed to anything, or dropped: the decoder's upcast
    and validation paths, not only its JSON parser."""
    raw: dict[str, Any] = orjson.loads(encode(draw(ANY_EVENT)))
    field = draw(st.sampled_from(sorted(raw)))
    if draw(st.booleans()):
        del raw[field]
    else:
        raw[field] = draw(JSON_VALUES | st.integers(-3, 3) | st.just(True))
    return raw


@FAST
@given(raw=near_misses(), event_type=EVENT_TYPES)
def test_a_real_event_with_one_field_wrong_is_an_event_or_an_event_decode_error(
    raw: dict[str, Any], event_type: str | None
) -> None:
    _decodes_or_refuses(json.dumps(raw).encode(), event_type)


@st.composite
def version_1_assignments(draw: st.DrawFn) -> dict[str, Any]:
    current = draw(events_of(ResponsibilityAssigned))
    raw: dict[str, Any] = orjson.loads(encode(current))
    del raw["deadline"]
    raw["schema_version"] = 1
    raw["deadline_date"] = draw(st.dates()).isoformat()
    if draw(st.booleans()):
        del raw["assignee_name"]  # version 1 did not always name the person
    return raw


@FAST
@given(raw=version_1_assignments(), told_its_type=st.booleans())
def test_every_version_1_assignment_is_upcast_to_a_valid_current_one(
    raw: dict[str, Any], told_its_type: bool
) -> None:
    event = decode(orjson.dumps(raw), "ResponsibilityAssigned" if told_its_type else None)
    assert isinstance(event, ResponsibilityAssigned)
    assert event.schema_version == ResponsibilityAssigned.current_version()
    day = date.fromisoformat(raw["deadline_date"])
    assert event.deadline == datetime.combine(day, time(23, 59, 59), tzinfo=CHINA)
    assert event.assignee_name == raw.get("assignee_name", raw["assignee"])
    for name in ("event_id", "lead_id", "unit", "assignee", "reason"):
        assert getattr(event, name) == raw.get(
            name, ResponsibilityAssigned.model_fields[name].default
        )
    assert decode(encode(event), "ResponsibilityAssigned") == event
