"""Sealing the log and verifying it: a sealed log verifies on the server and as an exported
file; a copy with one byte changed or one message removed names that sequence and blames no
intact one; a checkpoint signed with another key is refused; a message deleted from a stream
is named as missing; and the append-only streams refuse to delete one at all."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from nats.js import JetStreamContext
from nats.js.errors import APIError

from common.streams import declare_streams, stream_config
from common.subjects import Stream
from tests.conftest import NatsTarget
from tests.support.leadctl import (
    LEDGER_MESSAGES,
    SealKeys,
    against_the_server,
    fill,
    keygen,
    leadctl,
    on,
    printed,
    problems,
    succeeded,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def deletable_log(js: JetStreamContext) -> None:
    """As ``log``, but LEDGER created (by an administrator) without the deny-delete guard."""
    await js.add_stream(stream_config(Stream.LEDGER, deny_delete=False))
    assert await declare_streams(js, list(Stream)) == [Stream.LEDGER]
    await fill(js)


@pytest.fixture
def keys(tmp_path: Path) -> SealKeys:
    return keygen(tmp_path / "keys")


def test_a_sealed_log_verifies_on_the_server_and_as_an_exported_file(
    log: None, keys: SealKeys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    witness, exported_log = tmp_path / "witness", tmp_path / "LEDGER.jsonl"

    sealed = succeeded(
        leadctl(*on(nats_target), "seal", "--key", keys.private, "--out", witness, "--json")
    )
    verified = succeeded(leadctl(*on(nats_target), "verify", "--public-key", keys.public, "--json"))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", exported_log))
    offline = succeeded(
        leadctl(
            "verify",
            "--file",
            exported_log,
            "--checkpoint",
            witness / f"LEDGER-{LEDGER_MESSAGES}.json",
            "--public-key",
            keys.public,
            "--json",
        )
    )

    assert {c["stream"]: c["count"] for c in printed(sealed)}["LEDGER"] == LEDGER_MESSAGES
    assert {p.name for p in witness.iterdir()} >= {"LEDGER-6.json", "INTAKE-3.json"}
    assert problems(verified) == {}
    assert {v["stream"]: v["checkpoints"] for v in printed(verified)}["LEDGER"] == 1
    [verdict] = printed(offline)
    assert (verdict["stream"], verdict["ok"], verdict["messages"]) == ("LEDGER", True, 6)


def with_ledger_number_changed(line: bytes) -> bytes:
    """The message's data with one byte changed: its ledger number's last digit."""
    entry = orjson.loads(line)
    data = base64.b64decode(entry["data"])
    changed = data.replace(b"SHD-2026-000002", b"SHD-2026-000009")
    assert len(changed) == len(data)
    assert changed != data
    entry["data"] = base64.b64encode(changed).decode()
    return orjson.dumps(entry)


@dataclass(frozen=True)
class TamperedCopies:
    """Copies of an exported LEDGER log, checked against its sealed checkpoint."""

    checkpoint: Path
    public_key: Path
    altered: Path  # sequence 3 (the second lead's LeadRegistered) has one byte changed
    shortened: Path  # the line of sequence 4 is gone


@pytest.fixture
def tampered_copies(
    log: None, keys: SealKeys, nats_target: NatsTarget, tmp_path: Path
) -> TamperedCopies:
    witness, original = tmp_path / "witness", tmp_path / "LEDGER.jsonl"
    succeeded(leadctl(*on(nats_target), "seal", "--key", keys.private, "--out", witness))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", original))
    lines = original.read_bytes().splitlines()  # a header, then sequences 1..6
    copies = TamperedCopies(
        witness / f"LEDGER-{LEDGER_MESSAGES}.json",
        keys.public,
        tmp_path / "altered.jsonl",
        tmp_path / "shortened.jsonl",
    )
    copies.altered.write_bytes(
        b"\n".join([*lines[:3], with_ledger_number_changed(lines[3]), *lines[4:]]) + b"\n"
    )
    copies.shortened.write_bytes(b"\n".join([*lines[:4], *lines[5:]]) + b"\n")
    return copies


def verify_copy(copies: TamperedCopies, path: Path) -> Result:
    return leadctl(
        "verify",
        "--file",
        path,
        "--checkpoint",
        copies.checkpoint,
        "--public-key",
        copies.public_key,
        "--json",
    )


def test_an_exported_log_with_one_byte_changed_or_one_message_removed_names_that_sequence(
    tampered_copies: TamperedCopies,
) -> None:
    one_byte = verify_copy(tampered_copies, tampered_copies.altered)
    one_line = verify_copy(tampered_copies, tampered_copies.shortened)

    assert one_byte.exit_code == 1, one_byte.output
    assert (3, "altered") in problems(one_byte)["LEDGER"]
    assert one_line.exit_code == 1, one_line.output
    assert [seq for seq, kind in problems(one_line)["LEDGER"] if kind == "missing"] == [4]


def test_verifying_an_exported_log_blames_no_intact_message_after_a_changed_or_removed_one(
    tampered_copies: TamperedCopies,
) -> None:
    one_byte = verify_copy(tampered_copies, tampered_copies.altered)
    one_line = verify_copy(tampered_copies, tampered_copies.shortened)

    # Sequence 4 follows the changed message and sequence 5 the removed one; both are
    # exactly as exported, with the digest and link the export wrote for them.
    assert (4, "altered") not in problems(one_byte)["LEDGER"], one_byte.stdout
    assert (5, "altered") not in problems(one_line)["LEDGER"], one_line.stdout


def test_a_checkpoint_signed_with_another_key_is_refused(
    log: None, keys: SealKeys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    stranger = keygen(tmp_path / "stranger")
    forged, exported_log = tmp_path / "forged", tmp_path / "LEDGER.jsonl"
    succeeded(leadctl(*on(nats_target), "seal", "--key", stranger.private, "--out", forged))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", exported_log))

    offline = leadctl(
        "verify",
        "--file",
        exported_log,
        "--checkpoint",
        forged / f"LEDGER-{LEDGER_MESSAGES}.json",
        "--public-key",
        keys.public,
        "--json",
    )
    online = leadctl(*on(nats_target), "verify", "--public-key", keys.public, "--json")

    assert offline.exit_code == 1, offline.output
    assert "signature does not hold" in offline.output
    assert online.exit_code == 1, online.output
    assert problems(online)["LEDGER"] == [(LEDGER_MESSAGES, "checkpoint")]


def test_a_message_deleted_from_a_stream_is_named_as_missing_the_last_one_too(
    deletable_log: None, keys: SealKeys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    verify = [*on(nats_target), "verify", "--public-key", keys.public, "--json"]
    succeeded(leadctl(*on(nats_target), "seal", "--key", keys.private))
    succeeded(leadctl(*verify))

    against_the_server(nats_target, lambda js: js.delete_msg("LEDGER", 3))
    middle_gone = leadctl(*verify)
    against_the_server(nats_target, lambda js: js.delete_msg("LEDGER", LEDGER_MESSAGES))
    last_gone = leadctl(*verify)

    assert middle_gone.exit_code == 1, middle_gone.output
    assert (3, "missing") in problems(middle_gone)["LEDGER"]
    assert set(problems(middle_gone)) == {"LEDGER"}
    assert last_gone.exit_code == 1, last_gone.output
    missing = [seq for seq, kind in problems(last_gone)["LEDGER"] if kind == "missing"]
    assert sorted(set(missing)) == [3, LEDGER_MESSAGES]


async def test_the_append_only_streams_refuse_to_delete_a_message(js: JetStreamContext) -> None:
    await declare_streams(js, list(Stream))
    await fill(js)

    with pytest.raises(APIError) as refused:
        await js.delete_msg("LEDGER", 3)

    assert "delete not permitted" in str(refused.value.description)

    assert (await js.stream_info("LEDGER")).state.messages == LEDGER_MESSAGES
