"""leadctl: the operator's command line."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import create_engine, inspect

from common.database import sync_url
from common.projection import Subscription, Tracker
from common.replay import ReplayReport, replay
from common.subjects import Service, inbox_prefix

app = typer.Typer(
    help="Operate the lead-handling suite: replay and audit the event log.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.callback()
def _commands() -> None:
    """Keep subcommands even while there is only one."""


SERVICES = ("intake", "ledger", "oversight")

NatsUrl = Annotated[
    str, typer.Option(envvar="LEADS_NATS_URL", help="NATS server(s), comma-separated")
]
NatsUser = Annotated[
    str, typer.Option(envvar="LEADS_NATS_USER", help="NATS user (replay creates consumers: admin)")
]
NatsPassword = Annotated[str, typer.Option(envvar="LEADS_NATS_PASSWORD", help="NATS password")]


def subscriptions_of(service: str) -> Sequence[Subscription]:
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"{service}.projection")
    found: Sequence[Subscription] = getattr(module, "SUBSCRIPTIONS", ())
    if not found:
        raise typer.BadParameter(f"the {service} service has no projections to replay")
    return found


def _parse_until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"--until must be an ISO time, e.g. 2026-06-30T16:00:00+08:00: {exc}"
        ) from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("--until needs a time zone (e.g. +08:00 or Z)")
    return moment.astimezone(UTC)


@app.command("replay")
def replay_command(
    service: Annotated[str, typer.Argument(help="intake, ledger or oversight")],
    db: Annotated[str, typer.Option(help="the fresh database to rebuild into (SQLAlchemy URL)")],
    from_seq: Annotated[
        int, typer.Option("--from-seq", min=1, help="start at this stream sequence")
    ] = 1,
    until: Annotated[
        str | None, typer.Option(help="only events stored up to this moment (ISO 8601 with zone)")
    ] = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4333",
    user: NatsUser = "admin",
    password: NatsPassword = "",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Rebuild a service's projections from the log into a fresh database, through the same
    handlers the live consumer uses. With --until: the projection as it stood then."""
    moment = _parse_until(until)
    subscriptions = subscriptions_of(service)
    engine = create_engine(sync_url(db))
    existing = set(inspect(engine).get_table_names())
    clashing = existing & {t for s in subscriptions for t in s.projection.metadata.tables}
    if clashing:
        raise typer.BadParameter(f"--db is not fresh: it already has {', '.join(sorted(clashing))}")
    reports = asyncio.run(
        _replay(subscriptions, engine, from_seq, moment, nats_url, user, password)
    )
    engine.dispose()
    read = sum(r.read for r in reports)
    seconds = sum(r.seconds for r in reports)
    result = {
        "service": service,
        "events": read,
        "applied": sum(r.applied for r in reports),
        "seconds": round(seconds, 3),
        "events_per_second": round(read / seconds) if seconds else 0,
        "malformed": [m for r in reports for m in r.malformed],
        "until": moment.isoformat() if moment else None,
    }
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(
            f"replayed {read} events of {service} in {seconds:.1f}s "
            f"({result['events_per_second']:,} events/s); {len(result['malformed'])} malformed"
        )
    if result["malformed"]:
        raise typer.Exit(code=2)


async def _replay(
    subscriptions: Sequence[Subscription],
    engine: object,
    from_seq: int,
    until: datetime | None,
    nats_url: str,
    user: str,
    password: str,
) -> list[ReplayReport]:
    nc = await nats.connect(
        nats_url.split(","),
        user=user or None,
        password=password or None,
        inbox_prefix=inbox_prefix(Service.LEADCTL),
    )
    reports = []
    trackers: dict[str, Tracker] = {}
    try:
        js = nc.jetstream()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            for sub in subscriptions:
                tracker = trackers.setdefault(
                    sub.projection.name,
                    Tracker(engine, sub.projection, owner="leadctl-replay"),  # type: ignore[arg-type]
                )
                task = progress.add_task(f"{sub.projection.name} ← {sub.stream.value}", total=None)
                reports.append(
                    await replay(
                        js,
                        tracker,
                        sub.stream,
                        filter_subject=sub.filter_subject,
                        from_sequence=from_seq,
                        until=until,
                        progress=lambda done, total, task=task: progress.update(
                            task, completed=done, total=total
                        ),
                    )
                )
    finally:
        await nc.close()
    return reports


def main() -> None:
    app()


if __name__ == "__main__":
    main()
