"""``leadctl backup``, ``leadctl restore`` and ``leadctl backup-key new``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import nats.errors
import typer
from nats.js import JetStreamContext
from rich.console import Console

from leadctl.backup import drill, keys, tables
from leadctl.backup.jetstream import SnapshotFailed
from leadctl.backup.manifest import BackupUnusable
from leadctl.connection import run_on_nats

# Not wrapped: an operator greps what went wrong, and a test reads it whole.
console = Console(stderr=True, soft_wrap=True)
key_app = typer.Typer(help="The operator's backup key pair (age).", no_args_is_help=True)

AS_ADMIN = (
    "snapshots and restores are the NATS administrator's: run as the admin (leadctl --user"
    " admin …, with its password in --password or LEADS_NATS_PASSWORD)"
)
IntakeDb = Annotated[
    str | None,
    typer.Option(
        "--intake-db",
        envvar="INTAKE_DATABASE_URL",
        help="intake's database (SQLAlchemy URL): its identity-key store, claims, matters",
    ),
]
LedgerDb = Annotated[
    str | None, typer.Option("--ledger-db", envvar="LEDGER_DATABASE_URL", help="the ledger's")
]
OversightDb = Annotated[
    str | None,
    typer.Option("--oversight-db", envvar="OVERSIGHT_DATABASE_URL", help="oversight's"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _databases(intake: str | None, ledger: str | None, oversight: str | None) -> dict[str, str]:
    given = {"intake": intake, "ledger": ledger, "oversight": oversight}
    return {service: url for service, url in given.items() if url}


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _on_nats(ctx: typer.Context, work: Any) -> Any:
    try:
        return run_on_nats(work, ctx.obj, "admin")
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        # A denied request looks like a timeout (the server reports the denial aside).
        raise _fail(f"{AS_ADMIN} ({exc.__class__.__name__})") from exc
    except (
        BackupUnusable,
        drill.RestoreRefused,
        SnapshotFailed,
        tables.NotEmpty,
        tables.DumpInvalid,
        FileExistsError,
    ) as exc:
        raise _fail(str(exc)) from exc


def backup(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="a new (or empty) directory to write into")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            envvar="LEADS_BACKUP_RECIPIENT",
            help="the age public key (age1…) or a file holding it (leadctl backup-key new)",
        ),
    ],
    intake_db: IntakeDb = None,
    ledger_db: LedgerDb = None,
    oversight_db: OversightDb = None,
    as_json: AsJson = False,
) -> None:
    """Back up every stream (JetStream snapshots, sequence numbers kept) and the tables of
    each service's database that no replay rebuilds, encrypted to the operator's public key;
    the manifest (stream states, each file's SHA-256) is written last."""
    if intake_db is None:
        raise typer.BadParameter(
            "give intake's database (--intake-db or INTAKE_DATABASE_URL): without its key"
            " store no named reporter's identity could be opened after a restore"
        )
    try:
        recipient = keys.recipient(to)
    except (keys.KeyUnusable, OSError) as exc:
        raise typer.BadParameter(f"--to: {exc}") from exc
    databases = _databases(intake_db, ledger_db, oversight_db)

    async def work(js: JetStreamContext) -> Any:
        return await drill.take(js, directory, recipient, databases, say=_say)

    made = _on_nats(ctx, work)
    summary = {
        "directory": str(directory),
        "seconds": made.seconds,
        "streams": {s.stream: s.state for s in made.streams},
        "missing_streams": made.missing_streams,
        "databases": {d.service: d.tables for d in made.databases},
        "left_out": {d.service: d.left_out for d in made.databases if d.left_out},
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        typer.echo(
            f"backup complete in {made.seconds:.1f}s: {len(made.streams)} streams,"
            f" {len(made.databases)} databases → {directory}"
        )


def restore(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="a backup's directory")],
    identity: Annotated[
        Path,
        typer.Option(
            "--identity",
            envvar="LEADS_BACKUP_IDENTITY",
            exists=True,
            dir_okay=False,
            help="the age private key the backup was encrypted to",
        ),
    ],
    intake_db: IntakeDb = None,
    ledger_db: LedgerDb = None,
    oversight_db: OversightDb = None,
    databases_only: Annotated[
        bool,
        typer.Option(
            "--databases-only",
            help="keep the streams as they are (they survived) and restore the databases only;"
            " every shredding the streams record is carried out on the restored key store",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(help="replace streams that exist and rows the databases hold"),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Restore a backup into an empty cluster and empty databases: every file checked
    against the manifest first, then the streams, then the databases, with every identity
    key the restored streams record as shredded loaded destroyed. The services rebuild
    their projections from the streams when they start (or leadctl replay)."""
    try:
        opener = keys.identity(identity)
    except keys.KeyUnusable as exc:
        raise typer.BadParameter(f"--identity: {exc}") from exc
    databases = _databases(intake_db, ledger_db, oversight_db)
    if databases_only and not databases:
        raise typer.BadParameter("--databases-only: give at least one database to restore")

    async def work(js: JetStreamContext) -> Any:
        return await drill.bring_back(
            js,
            directory,
            opener,
            databases,
            streams=not databases_only,
            force=force,
            say=_say,
        )

    done = _on_nats(ctx, work)
    if as_json:
        typer.echo(json.dumps(done.as_dict(), ensure_ascii=False, default=str))
    else:
        typer.echo(
            f"restored in {done.seconds:.1f}s: {len(done.streams)} streams,"
            f" {sum(len(t) for t in done.tables.values())} tables;"
            f" {done.shreds_in_log} shreddings in the log,"
            f" {len(done.keys_loaded_destroyed) + len(done.keys_destroyed_after)} keys destroyed"
        )
    if not done.scrubbed:
        console.print(
            "[yellow]the key store could not be scrubbed now (database busy): intake scrubs"
            " it on start[/yellow]"
        )


@key_app.command("new")
def new_key(
    identity: Annotated[
        Path,
        typer.Option(help="where to write the private key (keep it offline; never overwritten)"),
    ],
    recipient: Annotated[
        Path, typer.Option(help="where to write the public key (the backup machines get it)")
    ],
) -> None:
    """Make the age key pair backups are encrypted to."""
    try:
        public = keys.new_pair(identity, recipient)
    except FileExistsError as exc:
        raise typer.BadParameter(
            f"--identity: {identity} exists; a new pair goes into a new file, since the old"
            " private key still opens the older backups"
        ) from exc
    typer.echo(public)


def _say(line: str) -> None:
    console.print(line)
