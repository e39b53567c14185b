"""``python -m leadctl.provision`` as the deployments run it (the compose step, the Kubernetes
Job), against a real nats-server under the deployment's own permission file: run twice it
succeeds twice (the Job is re-applied after every upgrade); a stream that exists with another
configuration stops it with a non-zero exit naming the stream and the fields, and is left as
it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from common.natsserver import NatsServer
from common.streams import stream_config
from common.subjects import Stream
from tests.support.certificates import issue, make_ca
from tests.support.nats_users import (
    USERS,
    PermissionedServer,
    connected,
    password,
    permissioned_server,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path) as running:
        yield running


def run_provision(server: PermissionedServer, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadctl.provision"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "LEADS_NATS_URL": server.url,
            "LEADS_NATS_USER": "admin",
            "LEADS_NATS_PASSWORD": server.passwords["admin"],
            "LEADS_STREAM_REPLICAS": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_provisioning_twice_succeeds_twice(server: PermissionedServer) -> None:
    first, second = run_provision(server), run_provision(server)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert f"provisioned {len(Stream)} streams" in second.stdout
    assert second.stderr == ""


async def test_a_stream_with_another_configuration_fails_the_run_naming_stream_and_fields(
    server: PermissionedServer,
) -> None:
    # INTAKE as someone made it by hand: a two-minute duplicate window and no direct gets.
    other = replace(stream_config(Stream.INTAKE), duplicate_window=120.0, allow_direct=False)
    async with connected(server, "admin") as admin:
        await admin.jsm.add_stream(other)

    done = run_provision(server)

    assert done.returncode == 1, done.stdout + done.stderr
    [line] = [line for line in done.stderr.splitlines() if "stream INTAKE:" in line]
    assert "duplicate_window: stored 120.0, declared 600.0" in line
    assert "allow_direct: stored False, declared True" in line
    # Only the fields that differ are named, and no other stream.
    assert "subjects" not in line
    assert "stream LEDGER" not in done.stderr
    async with connected(server, "admin") as admin:
        kept = (await admin.jsm.stream_info(Stream.INTAKE.value)).config
        # The rest was still provisioned: a later run needs to change only what is named.
        ledger = await admin.jsm.stream_info(Stream.LEDGER.value)
    assert (kept.duplicate_window, kept.allow_direct) == (120.0, False)
    assert ledger.config.allow_direct is True


async def test_once_the_administrator_restores_the_stream_the_run_succeeds(
    server: PermissionedServer,
) -> None:
    other = replace(stream_config(Stream.AUDIT), duplicate_window=60.0)
    async with connected(server, "admin") as admin:
        await admin.jsm.add_stream(other)
    assert run_provision(server).returncode == 1

    async with connected(server, "admin") as admin:
        await admin.jsm.update_stream(stream_config(Stream.AUDIT))
    done = run_provision(server)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


async def test_a_stream_the_administrator_grew_is_no_difference(
    server: PermissionedServer,
) -> None:
    grown = stream_config(Stream.LEDGER)
    grown = replace(grown, max_bytes=2 * (grown.max_bytes or 0))
    async with connected(server, "admin") as admin:
        await admin.jsm.add_stream(grown)

    done = run_provision(server)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize("replicas", ["0", "6", "three", ""])
def test_replicas_out_of_range_are_refused_before_connecting(
    server: PermissionedServer, replicas: str
) -> None:
    done = run_provision(server, LEADS_STREAM_REPLICAS=replicas)

    assert done.returncode == 1
    assert "LEADS_STREAM_REPLICAS must be a whole number from 1 to 5" in done.stderr


def test_a_missing_tls_ca_file_is_named(server: PermissionedServer, tmp_path: Path) -> None:
    missing = tmp_path / "no-ca.crt"

    done = run_provision(server, LEADS_NATS_TLS_CA_FILE=str(missing))

    assert done.returncode == 1
    assert f"LEADS_NATS_TLS_CA_FILE: no CA certificate file at {missing}" in done.stderr


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[PermissionedServer, Path]]:
    """The deployment's permissions on a nats-server that speaks TLS only, with a certificate
    from a CA of the test's own; and that CA's file."""
    ca = make_ca(tmp_path / "ca")
    files = issue(ca, tmp_path / "server", dns=("localhost",), ips=("127.0.0.1",))
    shutil.copy(ROOT / "deploy" / "nats" / "auth.conf", tmp_path / "auth.conf")
    config = tmp_path / "tls.conf"
    config.write_text(
        f'tls {{\n  cert_file: "{files.cert}"\n  key_file: "{files.key}"\n}}\ninclude auth.conf\n'
    )
    passwords = {user: password() for user in USERS}
    env = {f"NATS_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()}
    log = tmp_path / "nats-server.log"
    with NatsServer(tmp_path / "store", config=config, env=env, log_file=log) as server:
        url = f"tls://localhost:{server.port}"
        yield PermissionedServer(url=url, passwords=passwords, log=log), ca.cert_file


def test_provisioning_over_tls_checks_the_servers_against_the_given_ca(
    tls_server: tuple[PermissionedServer, Path],
) -> None:
    server, ca_file = tls_server

    done = run_provision(server, LEADS_NATS_TLS_CA_FILE=str(ca_file))

    assert done.returncode == 0, done.stderr
    assert f"provisioned {len(Stream)} streams" in done.stdout


def test_provisioning_over_tls_without_the_ca_does_not_connect(
    tls_server: tuple[PermissionedServer, Path], tmp_path: Path
) -> None:
    server, _ = tls_server
    stranger = make_ca(tmp_path / "other-ca", "another CA")

    done = run_provision(server, LEADS_NATS_TLS_CA_FILE=str(stranger.cert_file))

    assert done.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert "LEADS_NATS_URL: a server's certificate was refused" in done.stderr
    assert "Traceback" not in done.stderr
