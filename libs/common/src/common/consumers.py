"""Every durable consumer of the suite, with its configuration: the one list that
provisioning (``leadctl.provision``), the services and deploy/nats/auth.conf agree on.

Services may not create, update or delete consumers. A consumer's ``deliver_subject`` is not
checked against its creator's publish permissions (nats-io/nats-server#8274), so whoever may
create one can make the broker itself publish into a stream the creator may not write to.
The administrator provisions each durable below, with exactly the configuration its service
would have created; a service only looks its durables up, pulls from them and acknowledges.
Against a server without permissions (tests, a bare development server) a service still
creates what is missing, with the same configuration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError

from common.subjects import Service, Stream, durable_name

log = structlog.get_logger(__name__)

# A projection acknowledges after its transaction commits; a batch waits for the database.
PROJECTION_ACK_WAIT: Final = 30.0
# Two batches of the largest size a service may configure (10,000) in flight, with room for
# the redeliveries of a replica that stopped with a batch in hand.
PROJECTION_MAX_ACK_PENDING: Final = 40_000
REACTOR_ACK_WAIT: Final = 30.0

PROVISION_HINT: Final = "the administrator must provision it (python -m leadctl.provision)"


class Kind(StrEnum):
    PROJECTION = "projection"  # common.runner: batches into a projection's tables
    REACTOR = "reactor"  # common.reactor, common.batched: events into decisions


class ConsumerNotProvisioned(Exception):
    """A durable consumer is missing and this user may not create it."""


def projection_durable(service: Service, projection: str, stream: Stream) -> str:
    return durable_name(service, f"{projection}-{stream.value}")


def projection_config(
    durable: str,
    filter_subject: str | None = None,
    *,
    ack_wait: float = PROJECTION_ACK_WAIT,
    max_ack_pending: int = PROJECTION_MAX_ACK_PENDING,
    after: int = 0,
) -> ConsumerConfig:
    """A projection's durable: explicit acks after commit (never AckAll, which would
    acknowledge what another replica holds but has not applied), redelivered until applied.
    ``filter_subject`` None reads the whole stream, so nothing in it is passed over unseen;
    ``after`` starts past a stored position (only when a runner creates its own)."""
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
        opt_start_seq=after + 1 if after else None,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
        filter_subject=filter_subject,
    )


def reactor_config(durable: str, subject: str) -> ConsumerConfig:
    """A reactor's durable, exactly as FastStream's pull subscriber has nats-py create it
    (``pull_subscribe`` fills in name, durable name and filter subject): passed to the
    subscriber as its config, so binding and provisioning cannot differ."""
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=REACTOR_ACK_WAIT,
        max_deliver=-1,
        filter_subject=subject,
    )


@dataclass(frozen=True)
class Durable:
    service: Service
    stream: Stream
    name: str
    kind: Kind
    # None: the whole stream (projections); a reactor's event subject otherwise.
    filter_subject: str | None = None

    def config(self) -> ConsumerConfig:
        if self.kind is Kind.REACTOR:
            return reactor_config(self.name, self.filter_subject or "")
        return projection_config(self.name, self.filter_subject)


def _projection(service: Service, projection: str, stream: Stream) -> Durable:
    return Durable(
        service, stream, projection_durable(service, projection, stream), Kind.PROJECTION
    )


def _reactor(service: Service, name: str, stream: Stream, subject: str) -> Durable:
    return Durable(service, stream, durable_name(service, name), Kind.REACTOR, subject)


# What each service's bootstrap subscribes (runtime.project / react); a unit test keeps the
# two, and auth.conf's grants, in step.
DURABLES: Final[tuple[Durable, ...]] = (
    _projection(Service.INTAKE, "intake", Stream.INTAKE),
    _projection(Service.INTAKE, "intake", Stream.LEDGER),
    _reactor(Service.INTAKE, "duplicates", Stream.INTAKE, "intake.lead.*.LeadReported"),
    _projection(Service.LEDGER, "ledger", Stream.LEDGER),
    _projection(Service.LEDGER, "ledger", Stream.DIRECTIVES),
    _projection(Service.LEDGER, "ledger", Stream.INTAKE),
    _projection(Service.LEDGER, "notices", Stream.LEDGER),
    _projection(Service.LEDGER, "campaigns", Stream.LEDGER),
    _reactor(Service.LEDGER, "registrar", Stream.INTAKE, "intake.lead.*.LeadReported"),
    _reactor(Service.LEDGER, "outcomes", Stream.DIRECTIVES, "directive.lead.*.DisciplineOutcome"),
    *(
        _projection(Service.OVERSIGHT, "oversight", stream)
        for stream in (
            Stream.INTAKE,
            Stream.LEDGER,
            Stream.OVERSIGHT,
            Stream.DIRECTIVES,
            Stream.AUDIT,
        )
    ),
    _projection(Service.OVERSIGHT, "notices", Stream.LEDGER),
    _projection(Service.OVERSIGHT, "notices", Stream.OVERSIGHT),
    _reactor(Service.OVERSIGHT, "cases-from-reports", Stream.INTAKE, "intake.lead.*.LeadReported"),
    _reactor(
        Service.OVERSIGHT, "cases-from-transfers", Stream.LEDGER, "ledger.lead.*.LeadTransferred"
    ),
    # Every service keeps its own copy of the accounts (common.accounts).
    *(
        _projection(service, "accounts", stream)
        for service in (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT)
        for stream in (Stream.ACCOUNTS, Stream.SESSIONS)
    ),
)


def durables_of(service: Service) -> tuple[Durable, ...]:
    return tuple(d for d in DURABLES if d.service is service)


async def consumer_info(js: JetStreamContext, stream: Stream, name: str) -> ConsumerInfo | None:
    try:
        info: ConsumerInfo = await js.consumer_info(stream.value, name)
    except NotFoundError:
        return None
    return info


async def create_missing(js: JetStreamContext, stream: Stream, config: ConsumerConfig) -> None:
    """Create a durable that is missing, as a service may only without permissions. A refused
    request is never answered (the server reports the violation asynchronously)."""
    try:
        await js.add_consumer(stream.value, config)
    except nats.errors.TimeoutError as exc:
        raise ConsumerNotProvisioned(
            f"durable consumer {stream.value}/{config.durable_name} is missing and this "
            f"service may not create it: {PROVISION_HINT}"
        ) from exc


async def ensure_durables(
    js: JetStreamContext, durables: Iterable[tuple[Stream, ConsumerConfig]], wait: float = 30.0
) -> None:
    """Before a service binds to its durables: each exists, or is created where that is
    allowed. Missing ones are awaited for ``wait`` seconds (provisioning may still be running
    beside the service), then reported by name."""
    deadline = time.monotonic() + wait
    wanted = list(durables)
    while True:
        missing: list[str] = []
        for stream, config in wanted:
            if await consumer_info(js, stream, config.durable_name or "") is not None:
                continue
            try:
                await create_missing(js, stream, config)
            except ConsumerNotProvisioned:
                missing.append(f"{stream.value}/{config.durable_name}")
        if not missing:
            return
        if time.monotonic() > deadline:
            raise ConsumerNotProvisioned(
                f"durable consumers {', '.join(missing)} are missing and this service may "
                f"not create them: the administrator must provision them "
                f"(python -m leadctl.provision)"
            )
        log.error("consumers_not_provisioned", consumers=missing, hint=PROVISION_HINT)
        await asyncio.sleep(2.0)


# Set by the server at creation and fixed afterwards: an update keeps the stored values.
_FIXED_AT_CREATION: Final = ("deliver_policy", "opt_start_seq", "opt_start_time")


async def provision_durables(
    js: JetStreamContext, durables: Iterable[Durable] = DURABLES
) -> list[str]:
    """As the administrator: create each durable that is missing, bring an existing one to
    the listed configuration (where it starts stays as it was: a projection follows its
    database's position, not the consumer's), and return those the server would not change."""
    drifted = []
    for durable in durables:
        wanted = durable.config()
        info = await consumer_info(js, durable.stream, durable.name)
        if info is not None:
            for field in _FIXED_AT_CREATION:
                setattr(wanted, field, getattr(info.config, field))
            difference = _difference(wanted, info.config)
            if difference is None:
                continue
            log.info(
                "consumer_updated",
                stream=durable.stream.value,
                consumer=durable.name,
                difference=difference,
            )
        try:
            await js.add_consumer(durable.stream.value, wanted)
        except BadRequestError as exc:
            drifted.append(f"{durable.stream.value}/{durable.name}")
            log.warning(
                "consumer_configuration_differs",
                stream=durable.stream.value,
                consumer=durable.name,
                error=exc.description,
            )
    return drifted


def _difference(wanted: ConsumerConfig, stored: ConsumerConfig) -> str | None:
    """The first field the listing sets that the stored consumer has otherwise. Fields the
    listing leaves unset are the server's defaults and not compared, but for the filter: a
    projection's durable has none, and one left from an older release must lose it."""
    fields = [f for f in wanted.as_dict() if f != "name"]
    for field in [*fields, "filter_subject"]:
        if getattr(stored, field) != getattr(wanted, field):
            return f"{field}: {getattr(stored, field)!r}, listed {getattr(wanted, field)!r}"
    return None
