"""leadctl: the operator's and auditor's command line.

How to reach NATS is said once, before the command (``leadctl --nats-url URL --user U
status``, or LEADS_NATS_URL, LEADS_NATS_USER, LEADS_NATS_PASSWORD). Read commands take
``--json``; every command exits non-zero when it fails, and ``verify`` when it finds a problem."""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats
import nats.errors
import nats.js.errors
import typer
from nats.js import JetStreamContext
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import Engine, inspect

from common import chain
from common.auth import Directory, Principal, UserRecord, hash_token, new_token, write_users_file
from common.chain import Checkpoint
from common.database import sync_engine
from common.events import Actor, Role
from common.organisation import load_organisation
from common.projection import Subscription, Tracker
from common.replay import ReplayReport, replay
from common.subjects import Service, Stream
from leadctl import auditing, operations, receipts
from leadctl import dossier as dossier_check
from leadctl.accounts import accounts_app
from leadctl.backup import commands as backup_commands
from leadctl.connection import NatsConnection, run_on_nats
from leadctl.fingerprint import fingerprint, positions

T = TypeVar("T")

app = typer.Typer(
    help="Operate and audit the lead-handling suite: status, replay, history, seal and verify, dead letters, accounts, reporters' signed receipts.",
    no_args_is_help=True,
)
dlq_app = typer.Typer(help="Parked events: list, show, retry.", no_args_is_help=True)
export_app = typer.Typer(help="Exports from a projection database.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(export_app, name="export")
app.add_typer(accounts_app, name="accounts")
app.command("backup")(backup_commands.backup)
app.command("restore")(backup_commands.restore)
app.add_typer(backup_commands.key_app, name="backup-key")
console = Console(stderr=True)

SERVICES = tuple(s.value for s in operations.SERVICES)
ADMIN_NEEDED = (
    "a rebuild reads through a throw-away consumer, which only the NATS administrator may"
    " create: run it as the admin (leadctl --user admin …, or LEADS_NATS_USER=admin, with its"
    " password in --password or LEADS_NATS_PASSWORD)"
)
DEFAULT_URLS = {s.value: s.default_url for s in operations.SERVICES}

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@app.callback()
def connection(
    ctx: typer.Context,
    nats_url: Annotated[
        str, typer.Option(envvar="LEADS_NATS_URL", help="NATS server(s), comma-separated")
    ] = "nats://127.0.0.1:4333",
    user: Annotated[
        str | None,
        typer.Option(
            envvar="LEADS_NATS_USER",
            help="NATS user (if not given: leadctl; admin for replay and accounts)",
            show_default=False,
        ),
    ] = None,
    password: Annotated[str, typer.Option(envvar="LEADS_NATS_PASSWORD", help="NATS password")] = "",
    nats_tls_ca: Annotated[
        Path | None,
        typer.Option(
            "--nats-tls-ca",
            envvar="LEADS_NATS_TLS_CA_FILE",
            help="CA certificate of the NATS servers (PEM): connect with TLS and check them",
            show_default=False,
        ),
    ] = None,
) -> None:
    if nats_tls_ca is not None and not nats_tls_ca.is_file():
        raise typer.BadParameter(
            f"no CA certificate file at {nats_tls_ca}", param_hint="--nats-tls-ca"
        )
    ctx.obj = NatsConnection(url=nats_url, user=user, password=password, tls_ca=nats_tls_ca)


def _run(
    work: Callable[[JetStreamContext], Awaitable[T]],
    ctx: typer.Context,
    usual_user: str = "leadctl",
) -> T:
    return run_on_nats(work, ctx.obj, usual_user)


def _emit(data: Any, as_json: bool, table: Callable[[], Table] | None = None) -> None:
    if as_json or table is None:
        typer.echo(json.dumps(data, ensure_ascii=False, default=str, indent=None if as_json else 2))
    else:
        Console().print(table())


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


# --- status -------------------------------------------------------------------------------


@app.command()
def status(
    ctx: typer.Context,
    as_json: AsJson = False,
    intake_url: Annotated[
        str, typer.Option(envvar="LEADS_INTAKE_URL", help="intake's base URL")
    ] = DEFAULT_URLS["intake"],
    ledger_url: Annotated[
        str, typer.Option(envvar="LEADS_LEDGER_URL", help="the ledger's base URL")
    ] = DEFAULT_URLS["ledger"],
    oversight_url: Annotated[
        str, typer.Option(envvar="LEADS_OVERSIGHT_URL", help="oversight's base URL")
    ] = DEFAULT_URLS["oversight"],
) -> None:
    """Streams (messages, bytes, sequences), each consumer's lag, parked events, service health."""

    async def work(js: JetStreamContext) -> dict[str, Any]:
        parked = {
            s.value: [p for p in await operations.parked(js, s) if not p.resolved]
            for s in operations.SERVICES
        }
        return {
            "streams": await operations.stream_status(js),
            "parked": {name: len(events) for name, events in parked.items()},
        }

    found = _run(work, ctx)
    found["services"] = operations.health(
        {"intake": intake_url, "ledger": ledger_url, "oversight": oversight_url}
    )

    def table() -> Table:
        t = Table("stream", "messages", "bytes", "first", "last", "consumer", "lag", "unacked")
        for s in found["streams"]:
            if not s["exists"]:
                t.add_row(s["stream"], "missing")
                continue
            consumers = s["consumers"] or [{"name": "-", "lag": "", "unacknowledged": ""}]
            for i, c in enumerate(consumers):
                head = (
                    [
                        s["stream"],
                        str(s["messages"]),
                        str(s["bytes"]),
                        str(s["first_sequence"]),
                        str(s["last_sequence"]),
                    ]
                    if i == 0
                    else [""] * 5
                )
                t.add_row(*head, c["name"], str(c["lag"]), str(c["unacknowledged"]))
        t.caption = (
            "parked: "
            + ", ".join(f"{k} {v}" for k, v in found["parked"].items())
            + " | services: "
            + ", ".join(f"{k} {v.get('status')}" for k, v in found["services"].items())
        )
        return t

    _emit(found, as_json, table)


# --- replay ------------------------------------------------------------------------------


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
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="intake, ledger or oversight")],
    db: Annotated[str, typer.Option(help="the fresh database to rebuild into (SQLAlchemy URL)")],
    from_seq: Annotated[
        int,
        typer.Option(
            "--from-seq", min=1, help="continue the projection in --db from this sequence"
        ),
    ] = 1,
    until: Annotated[
        str | None, typer.Option(help="only events stored up to this moment (ISO 8601 with zone)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Rebuild a service's projections from the log into a fresh database, through the same
    handlers the live consumer uses. With --until: the projection as it stood then."""
    moment = _parse_until(until)
    subscriptions = subscriptions_of(service)
    engine = sync_engine(db)
    clashing = set(inspect(engine).get_table_names()) & {
        t for s in subscriptions for t in s.projection.metadata.tables
    }
    # From the start, into a fresh database; from a sequence, onto a database that holds
    # the projection up to there (events at or below its stored position are skipped).
    if clashing and from_seq == 1:
        raise typer.BadParameter(f"--db is not fresh: it already has {', '.join(sorted(clashing))}")
    if from_seq > 1 and not clashing:
        raise typer.BadParameter(
            "--from-seq continues a projection: give the database that holds it"
        )
    reports = _run(
        lambda js: _replay(js, subscriptions, engine, from_seq, moment, None),
        ctx,
        usual_user="admin",
    )
    engine.dispose()
    read = sum(r.read for r in reports)
    seconds = sum(r.seconds for r in reports)
    result: dict[str, Any] = {
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
    js: JetStreamContext,
    subscriptions: Sequence[Subscription],
    engine: Engine,
    from_seq: int,
    until: datetime | None,
    until_sequences: dict[str, int] | None,
) -> list[ReplayReport]:
    reports: list[ReplayReport] = []
    trackers: dict[str, Tracker] = {}
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
                sub.projection.name, Tracker(engine, sub.projection, owner="leadctl-replay")
            )
            task = progress.add_task(f"{sub.projection.name} ← {sub.stream.value}", total=None)
            try:
                report = await replay(
                    js,
                    tracker,
                    sub.stream,
                    filter_subject=sub.filter_subject,
                    from_sequence=from_seq,
                    until=until,
                    until_sequence=None
                    if until_sequences is None
                    else until_sequences.get(sub.stream.value, 0),
                    progress=_advance(progress, task),
                    in_child_process=True,
                )
            except (nats.errors.TimeoutError, TimeoutError, nats.js.errors.APIError) as exc:
                # The replay's first request is the one a narrow user may not make: a
                # denial is a timeout (notes on NATS permissions) or an API error.
                if not reports:
                    raise _fail(ADMIN_NEEDED) from exc
                raise
            reports.append(report)
    return reports


def _advance(progress: Progress, task: TaskID) -> Callable[[int, int], None]:
    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return advance


# --- history -----------------------------------------------------------------------------


def _auditor(token: str, users_file: Path) -> Principal:
    principal = Directory.from_file(users_file).authenticate(token) if token else None
    if principal is None:
        raise _fail("history is for auditors: give an auditor's token (--token or LEADS_TOKEN)")
    if principal.role is not Role.AUDITOR:
        raise _fail(f"history is for auditors; the token is {principal.role.value}'s")
    return principal


@app.command()
def history(
    ctx: typer.Context,
    lead_id: str,
    token: Annotated[str, typer.Option(envvar="LEADS_TOKEN", help="an auditor's API token")] = "",
    users_file: Annotated[Path, typer.Option(envvar="LEADS_USERS_FILE")] = Path(
        "var/demo/users.toml"
    ),
    purpose: Annotated[str, typer.Option(help="why you look (recorded)")] = "audit",
    as_json: AsJson = False,
) -> None:
    """The whole chain of custody of one lead across every stream, in order (auditors only;
    the look is itself recorded)."""
    auditor = _auditor(token, users_file)

    async def work(js: JetStreamContext) -> list[auditing.Entry]:
        entries = await auditing.chain_of_custody(js, lead_id)
        await auditing.record_view(js, lead_id, auditor.actor, purpose)
        return entries

    entries = _run(work, ctx)
    if not entries:
        raise _fail(f"no events for lead {lead_id}")
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, default=str))
        return
    for line in auditing.lines_of(entries):
        typer.echo(line)


# --- seal and verify ---------------------------------------------------------------------


@app.command()
def keygen(
    private: Annotated[Path, typer.Option(help="where to write the private key (keep it offline)")],
    public: Annotated[
        Path, typer.Option(help="where to write the public key (give it to witnesses)")
    ],
) -> None:
    """Make the Ed25519 key pair checkpoints are signed with."""
    typer.echo(f"key {auditing.write_keys(private, public)} written")


@app.command()
def seal(
    ctx: typer.Context,
    key: Annotated[
        Path, typer.Option(envvar="LEADS_SEAL_KEY", help="the Ed25519 private key (PEM)")
    ],
    out: Annotated[
        Path | None, typer.Option(help="also write each checkpoint here, for an outside witness")
    ] = None,
    stream: Annotated[list[Stream] | None, typer.Option(help="only these streams")] = None,
    as_json: AsJson = False,
) -> None:
    """Compute the hash chain of each stream and append a signed checkpoint to the audit stream."""
    signing = chain.private_key(key)
    actor = Actor(role=Role.AUDITOR, user="leadctl")

    async def work(js: JetStreamContext) -> list[Checkpoint]:
        return [await auditing.seal(js, s, signing, actor) for s in (stream or list(Stream))]

    sealed = _run(work, ctx)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for checkpoint in sealed:
            (out / f"{checkpoint.stream}-{checkpoint.last_sequence}.json").write_text(
                checkpoint.model_dump_json(indent=2)
            )
    _emit(
        [
            {"stream": c.stream, "last_sequence": c.last_sequence, "count": c.count, "link": c.link}
            for c in sealed
        ],
        as_json,
        lambda: _checkpoint_table(sealed),
    )


def _checkpoint_table(sealed: Sequence[Checkpoint]) -> Table:
    t = Table("stream", "messages", "last sequence", "link")
    for c in sealed:
        t.add_row(c.stream, str(c.count), str(c.last_sequence), c.link[:16] + "…")
    return t


@app.command()
def verify(
    ctx: typer.Context,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            envvar="LEADS_SEAL_PUBLIC_KEY",
            help="check checkpoint signatures; repeat it for every key ever used (rotation)",
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="verify an exported log offline instead")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="with --file: a checkpoint file to hold it against")
    ] = None,
    projection: Annotated[
        str | None, typer.Option(help="compare this service's live projection with a fresh replay")
    ] = None,
    live_db: Annotated[
        str | None, typer.Option(help="with --projection: the live database URL")
    ] = None,
    dossier: Annotated[
        Path | None,
        typer.Option(help="check a dossier ZIP (专题材料) against its manifest, offline"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Recompute every chain and check every checkpoint, naming each sequence that is
    missing, altered or out of order. Exit 1 if anything is wrong."""
    keys = auditing.key_ring([chain.public_key(p) for p in public_key]) if public_key else None
    if dossier is not None:
        found = dossier_check.check(dossier, keys)
        if as_json:
            _emit(found.as_dict(), as_json)
        else:
            typer.echo("\n".join(dossier_check.lines_of(found)))
        raise typer.Exit(0 if found.ok else 1)
    if projection is not None:
        _verify_projection(ctx, projection, live_db, as_json)
        return
    if file is not None:
        held = Checkpoint.model_validate_json(checkpoint.read_text()) if checkpoint else None
        if held is not None and keys is not None:
            key = keys.get(held.key_id)
            if key is None or not held.signature_holds(key):
                raise _fail("the checkpoint's signature does not hold with any key given")
        verdicts = [auditing.verify_log(file, held)]
    else:

        async def work(js: JetStreamContext) -> list[auditing.Verdict]:
            found = await auditing.checkpoints(js)
            return [await auditing.verify_stream(js, s, found, keys) for s in Stream]

        verdicts = _run(work, ctx)
    _emit([v.as_dict() for v in verdicts], as_json, lambda: _verdict_table(verdicts))
    if not all(v.ok for v in verdicts):
        raise typer.Exit(1)


def _verdict_table(verdicts: Sequence[auditing.Verdict]) -> Table:
    t = Table("stream", "messages", "checkpoints", "verdict")
    for v in verdicts:
        problems = "; ".join(f"{p.kind} at {p.sequence}: {p.detail}" for p in v.problems[:10])
        t.add_row(
            v.stream,
            str(v.messages),
            str(v.checkpoints),
            "ok" if v.ok else f"[red]{problems}[/red]",
        )
    return t


def _verify_projection(
    ctx: typer.Context, service: str, live_db: str | None, as_json: bool
) -> None:
    if live_db is None:
        raise typer.BadParameter("--projection needs --live-db")
    subscriptions = subscriptions_of(service)
    live = sync_engine(live_db)
    projections = {s.projection.name: s.projection for s in subscriptions}
    at = {name: positions(live, p.key) for name, p in projections.items()}
    with tempfile.TemporaryDirectory() as scratch:
        fresh = sync_engine(f"sqlite:///{Path(scratch) / 'fresh.db'}")
        _run(
            lambda js: _replay(
                js, subscriptions, fresh, 1, None, {k: v for p in at.values() for k, v in p.items()}
            ),
            ctx,
        )
        result: list[dict[str, Any]] = []
        for name, projection in projections.items():
            mine, theirs = (
                fingerprint(live, projection.metadata),
                fingerprint(fresh, projection.metadata),
            )
            result.append(
                {
                    "projection": name,
                    "positions": at[name],
                    "live": mine,
                    "replay": theirs,
                    "equal": mine == theirs,
                    "tables_differing": sorted(t for t in mine if mine[t] != theirs.get(t)),
                }
            )
        fresh.dispose()
    live.dispose()
    _emit(result, as_json)
    if not all(r["equal"] for r in result):
        raise typer.Exit(1)


@app.command("export-log")
def export_log(
    ctx: typer.Context,
    stream: Stream,
    file: Path,
) -> None:
    """A JSON-lines copy of a stream with its hash chain, verifiable offline with
    `leadctl verify --file`."""

    async def work(js: JetStreamContext) -> tuple[int, str]:
        return await auditing.export_log(js, stream, file)

    count, last = _run(work, ctx)
    typer.echo(f"{count} messages of {stream.value} written to {file}; last link {last}")


# --- signed receipts ----------------------------------------------------------------------


@app.command("verify-receipt")
def verify_receipt(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="the receipt file, as it was saved"),
    ],
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            envvar="LEADS_RECEIPT_PUBLIC_KEY",
            help="intake's public key, base64 (as GET /v1/receipts/public-key gives it);"
            " repeat it for earlier keys",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="fetch the public keys from this intake, then check here"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Check a reporter's signed receipt against intake's public key, offline: exit 0 if it
    is valid, 1 if not (saying why in Chinese and English)."""
    if not public_key and url is None:
        raise typer.BadParameter("give --public-key KEY (offline) or --url INTAKE_URL")
    try:
        keys = receipts.keys_given(public_key or [])
        if url is not None:
            keys += receipts.keys_published(url)
    except receipts.KeysUnavailable as exc:
        raise _fail(str(exc), code=2) from exc
    verdict = receipts.check(file, keys)
    if as_json:
        typer.echo(json.dumps(verdict.as_dict(), ensure_ascii=False))
    else:
        for line in receipts.lines_of(verdict):
            typer.echo(line)
    if not verdict.valid:
        raise typer.Exit(1)


# --- ledger export from a (replayed) database --------------------------------------------------


@export_app.command("ledger")
def export_ledger(
    db: Annotated[
        str, typer.Option(help="a ledger database, e.g. one rebuilt with replay --until")
    ],
    xlsx: Annotated[Path | None, typer.Option(help="write XLSX here")] = None,
    csv: Annotated[Path | None, typer.Option(help="write CSV here")] = None,
    lang: Annotated[str, typer.Option(help="zh or en headers")] = "zh",
) -> None:
    """The ledger export (Chinese headers) from any ledger database."""
    from leadctl.ledger_export import export

    if xlsx is None and csv is None:
        raise typer.BadParameter("give --xlsx FILE or --csv FILE")
    rows = export(db, xlsx, csv, "en" if lang == "en" else "zh")
    typer.echo(f"{rows} leads exported")


# --- API users -----------------------------------------------------------------------------


@app.command("add-user")
def add_user(
    user: Annotated[str, typer.Argument(help="the account name, e.g. wang.wei")],
    role: Annotated[Role, typer.Option(help="what the person may do")],
    name: Annotated[str, typer.Option(help="the person's name as shown")],
    users_file: Annotated[Path, typer.Option(envvar="LEADS_USERS_FILE")],
    unit: Annotated[str | None, typer.Option(help="the unit code, e.g. shd-police")] = None,
) -> None:
    """Add (or replace) an API user and print the new token once: the file keeps only its
    hash. Give the same file to every service: each follows it within seconds, no restart."""
    if role in (Role.REPORTER, Role.SYSTEM):
        raise typer.BadParameter(f"{role.value} is not an account")
    org = load_organisation()
    if unit is not None and org.unit(unit) is None:
        raise typer.BadParameter(
            f"unknown unit {unit!r}; one of {', '.join(u.code for u in org.units)}"
        )
    records = [r for r in _users(users_file) if r.user != user]
    token = new_token()
    records.append(
        UserRecord(
            user=user, display_name=name, role=role, unit=unit, token_sha256=hash_token(token)
        )
    )
    write_users_file(users_file, records)
    typer.echo(token)


def _users(path: Path) -> list[UserRecord]:
    if not path.exists():
        return []
    return [
        UserRecord.model_validate(u)
        for u in tomllib.loads(path.read_text("utf-8")).get("users", [])
    ]


# --- dead letters --------------------------------------------------------------------------


def _service(name: str) -> Service:
    if name not in SERVICES:
        raise typer.BadParameter(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    return Service(name)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    service: Annotated[
        str | None, typer.Argument(help="intake, ledger or oversight (default: all)")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="include events already retried")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Parked events with the reason each was parked."""
    services = [_service(service)] if service else list(operations.SERVICES)

    async def work(js: JetStreamContext) -> list[operations.ParkedEvent]:
        return [p for s in services for p in await operations.parked(js, s)]

    found = [p for p in _run(work, ctx) if everything or not p.resolved]

    def table() -> Table:
        t = Table("service", "seq", "consumer", "origin", "reason", "retried")
        for p in found:
            t.add_row(
                p.service,
                str(p.sequence),
                p.consumer,
                f"{p.origin_stream}#{p.origin_sequence}",
                p.reason,
                "yes" if p.resolved else "",
            )
        return t

    _emit([p.as_dict() for p in found], as_json, table)


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    service: str,
    sequence: int,
) -> None:
    """One parked event in full: where it came from, why it stopped, what it says."""
    chosen = _service(service)
    found = _run(lambda js: operations.parked(js, chosen), ctx)
    match = next((p for p in found if p.sequence == sequence), None)
    if match is None:
        raise _fail(f"nothing parked at {service} #{sequence}")
    typer.echo(
        json.dumps(
            match.as_dict() | {"event": auditing.decoded(match.data, match.subject)},
            ensure_ascii=False,
            default=str,
            indent=2,
        )
    )


@dlq_app.command("retry")
def dlq_retry(
    service: str,
    sequence: int,
    token: Annotated[
        str, typer.Option(envvar="LEADS_ADMIN_TOKEN", help="an admin's API token")
    ] = "",
    url: Annotated[str | None, typer.Option(help="the service's base URL")] = None,
) -> None:
    """Apply a parked event again through the consumer that parked it (after its cause was
    fixed); the service records that it was retried."""
    chosen = _service(service)
    answer = operations.retry(url or DEFAULT_URLS[chosen.value], sequence, token)
    if answer.status_code != 200:
        raise _fail(f"{answer.status_code}: {answer.text}")
    typer.echo(json.dumps(answer.json(), ensure_ascii=False))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
