"""TLS between the suite's parts, as deployed: the NATS nodes run the deployment's own start
script, cluster config and permission file, with certificates made by deploy/tls/make-certs.sh.

Routes between two nodes form over mutual TLS and carry a replicated stream; a node whose
certificate another CA signed is no route. Clients speaking plaintext, trusting another CA or
dialling a name the certificate does not carry are refused. A service given
``nats_tls_ca_file`` takes a report through the TLS cluster to the ledger, and leadctl's
``--nats-tls-ca`` reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from cryptography import x509
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from common.consumers import DURABLES, provision_durables
from common.database import Database, async_url, sync_url
from common.natsserver import free_port, nats_server_binary, wait_for_port
from common.streams import declare_streams
from common.subjects import Service, Stream, inbox_prefix
from common.tls import asyncpg_ssl, client_context, nats_tls
from intake.bootstrap import create_app as intake_app
from intake.settings import IntakeSettings
from leadctl.cli import app as leadctl
from ledger.bootstrap import create_app as ledger_app
from ledger.settings import LedgerSettings
from tests.conftest import wait_until
from tests.support.apps import random_key, serving, write_staff
from tests.support.certificates import issue, make_ca

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAKE_CERTS = ROOT / "deploy" / "tls" / "make-certs.sh"
NATS = ROOT / "deploy" / "nats"
USERS = ("intake", "ledger", "oversight", "leadctl", "admin")
REPLICAS = 2


def _need_openssl() -> None:
    if shutil.which("openssl") is None:
        reason = "deploy/tls/make-certs.sh needs openssl, which is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def make_certs(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    _need_openssl()
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        ["sh", str(MAKE_CERTS), "--out", str(out), *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


# --- nodes as deployed -------------------------------------------------------------------


@dataclass
class Node:
    name: str
    port: int
    cluster_port: int
    http_port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        # An address the certificate names (IP:127.0.0.1), as clients are given nats-1..3.
        return f"nats://127.0.0.1:{self.port}"

    def routes(self) -> int:
        answer = httpx.get(f"http://127.0.0.1:{self.http_port}/routez", timeout=2)
        return int(answer.json()["num_routes"])

    def healthy(self) -> bool:
        """JetStream answers: a meta leader is known (which needs the route)."""
        return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2).is_success


def node_env(name: str, tls: Path, store: Path, passwords: dict[str, str]) -> dict[str, str]:
    """What compose and Kubernetes give a node, with the files in test directories."""
    return {
        "PATH": f"{nats_server_binary().parent}{os.pathsep}{os.environ['PATH']}",
        "NATS_CONFIG": str(NATS / "cluster-node.conf"),
        "NATS_SERVER_NAME": name,
        "NATS_ROUTES": "[]",  # given on the command line, where the ports are known
        "NATS_STORE_DIR": str(store),
        "NATS_TLS_CERT": str(tls / "tls.crt"),
        "NATS_TLS_KEY": str(tls / "tls.key"),
        "NATS_TLS_CA": str(tls / "ca.crt"),
        **{f"NATS_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()},
    }


def start_node(
    workdir: Path,
    name: str,
    tls: Path,
    passwords: dict[str, str],
    routes: list[int],
    cluster_port: int | None = None,
) -> Node:
    """One node through deploy/nats/start.sh and cluster-node.conf; the command line moves
    its listeners to free loopback ports (the file's own are fixed, for containers)."""
    port, http_port = free_port(), free_port()
    cluster_port = cluster_port or free_port()
    log = workdir / f"{name}.log"
    args = ["-a", "127.0.0.1", "-p", str(port), "-m", str(http_port)]
    args += ["--cluster", f"nats://127.0.0.1:{cluster_port}"]
    if routes:
        args += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in routes)]
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - the deployment's own script
            ["sh", str(NATS / "start.sh"), *args],  # noqa: S607
            env=node_env(name, tls, workdir / f"{name}-store", passwords),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    node = Node(name, port, cluster_port, http_port, log, process)
    try:
        wait_for_port("127.0.0.1", port)
        wait_for_port("127.0.0.1", http_port)
    except TimeoutError:
        stop_node(node)
        raise AssertionError(f"{name} did not start: {log.read_text()[-2000:]}") from None
    return node


def stop_node(node: Node) -> None:
    if node.process.poll() is None:
        node.process.terminate()
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


@dataclass
class TlsCluster:
    nodes: list[Node]
    passwords: dict[str, str]
    certs: Path
    workdir: Path

    @property
    def ca(self) -> Path:
        return self.certs / "ca.crt"

    @property
    def urls(self) -> str:
        return ",".join(node.url for node in self.nodes)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    """Two nodes routed to each other over TLS, with make-certs.sh's certificates."""
    workdir = tmp_path_factory.mktemp("tls-cluster")
    certs = workdir / "tls"
    make_certs(certs)
    passwords = {user: "p" + secrets.token_hex(16) for user in USERS}
    # Each routed to the other, as compose and Kubernetes list every node in NATS_ROUTES
    # (JetStream will not start a clustered node that has no route configured).
    one, two = free_port(), free_port()
    nodes: list[Node] = []
    try:
        for name, own, other in (("nats-1", one, two), ("nats-2", two, one)):
            nodes.append(
                start_node(
                    workdir, name, certs / "nats", passwords, routes=[other], cluster_port=own
                )
            )
        yield TlsCluster(nodes=nodes, passwords=passwords, certs=certs, workdir=workdir)
    finally:
        for node in nodes:
            stop_node(node)


@contextlib.asynccontextmanager
async def connected(
    cluster: TlsCluster, user: str, url: str | None = None, **tls: object
) -> AsyncIterator[Client]:
    prefix = "_INBOX" if user == "admin" else inbox_prefix(Service(user))
    nc = await nats.connect(
        url or cluster.nodes[0].url,
        user=user,
        password=cluster.passwords[user],
        inbox_prefix=prefix,
        allow_reconnect=False,
        connect_timeout=5,
        **(tls or nats_tls(cluster.ca)),  # type: ignore[arg-type]
    )
    try:
        yield nc
    finally:
        await nc.close()


async def routed(cluster: TlsCluster) -> bool:
    """Every node has a route and JetStream is up on it."""
    for node in cluster.nodes:
        if await asyncio.to_thread(node.routes) < 1 or not await asyncio.to_thread(node.healthy):
            return False
    return True


# --- the certificates --------------------------------------------------------------------


def test_make_certs_makes_each_file_once_with_private_keys(tmp_path: Path) -> None:
    made = make_certs(tmp_path)
    assert "made the CA" in made.stdout
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "ca.crt",
        "ca.key",
        "nats/ca.crt",
        "nats/tls.crt",
        "nats/tls.key",
        "postgres/ca.crt",
        "postgres/tls.crt",
        "postgres/tls.key",
    ]
    for key in ("ca.key", "nats/tls.key", "postgres/tls.key"):
        assert (tmp_path / key).stat().st_mode & 0o777 == 0o600, key
    before = {name: (tmp_path / name).read_bytes() for name in files}

    again = make_certs(tmp_path)

    assert {name: (tmp_path / name).read_bytes() for name in files} == before
    assert "kept nats" in again.stdout
    assert "kept postgres" in again.stdout


def test_make_certs_names_every_host_the_deployment_dials(tmp_path: Path) -> None:
    make_certs(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    expected = {
        "nats": ["nats-1", "nats-2", "nats-3", "nats", "localhost"],
        "postgres": ["postgres", "localhost"],
    }
    for server, names in expected.items():
        cert = x509.load_pem_x509_certificate((tmp_path / server / "tls.crt").read_bytes())
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == names
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_renewing_issues_new_server_certificates_from_the_same_ca(tmp_path: Path) -> None:
    make_certs(tmp_path)
    ca = (tmp_path / "ca.crt").read_bytes()
    old = (tmp_path / "nats" / "tls.crt").read_bytes()
    old_key = (tmp_path / "nats" / "tls.key").read_bytes()

    make_certs(tmp_path, "--renew")

    assert (tmp_path / "ca.crt").read_bytes() == ca
    assert (tmp_path / "nats" / "ca.crt").read_bytes() == ca
    assert (tmp_path / "nats" / "tls.crt").read_bytes() != old
    assert (tmp_path / "nats" / "tls.key").read_bytes() != old_key
    renewed = x509.load_pem_x509_certificate((tmp_path / "nats" / "tls.crt").read_bytes())
    renewed.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))


def test_every_nats_config_passes_nats_server_t() -> None:
    _need_openssl()
    done = subprocess.run(  # noqa: S603 - our own script
        ["sh", str(NATS / "check-configs.sh"), str(nats_server_binary())],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for config in ("cluster-node.conf", "embedded.conf"):
        assert f"{config} is valid" in done.stderr


def test_a_node_without_its_certificate_refuses_to_start(tmp_path: Path) -> None:
    passwords = {user: "p" + secrets.token_hex(8) for user in USERS}
    env = node_env("nats-1", tmp_path / "absent", tmp_path / "store", passwords)
    done = subprocess.run(  # noqa: S603 - the deployment's own script
        ["sh", str(NATS / "start.sh")],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 1
    assert f"refusing to start: {tmp_path / 'absent' / 'tls.crt'} is missing" in done.stderr


# --- routes ------------------------------------------------------------------------------


async def test_the_route_forms_over_tls_and_carries_a_replicated_stream(
    tls_cluster: TlsCluster,
) -> None:
    await wait_until(lambda: routed(tls_cluster), timeout=30)
    first, second = tls_cluster.nodes
    subject = f"tlscheck.{secrets.token_hex(4)}"
    async with connected(tls_cluster, "admin", first.url) as nc:
        js = nc.jetstream()
        await js.add_stream(
            name="TLSCHECK", subjects=["tlscheck.>"], num_replicas=REPLICAS, allow_direct=True
        )
        await js.publish(subject, b"across the route")
    async with connected(tls_cluster, "admin", second.url) as nc:
        jsm = nc.jsm()

        async def replicated() -> bool:
            info = await jsm.stream_info("TLSCHECK")
            cluster = info.cluster
            return bool(
                cluster is not None
                and cluster.replicas
                and all(replica.current for replica in cluster.replicas)
            )

        await wait_until(replicated, timeout=30)
        stored = await jsm.get_last_msg("TLSCHECK", subject, direct=True)
    assert stored.data == b"across the route"
    log = first.log.read_text()
    assert "TLS required for client connections" in log


async def test_a_node_whose_certificate_another_ca_signed_is_no_route(
    tls_cluster: TlsCluster, tmp_path: Path
) -> None:
    await wait_until(lambda: routed(tls_cluster), timeout=30)
    stranger_ca = make_ca(tmp_path / "other-ca", "another CA")
    stranger_tls = issue(stranger_ca, tmp_path / "stranger")
    stranger = start_node(
        tmp_path,
        "stranger",
        stranger_tls.ca.parent,
        tls_cluster.passwords,
        routes=[tls_cluster.nodes[0].cluster_port],
    )
    try:
        # It dials the first node; each side checks the other's certificate and refuses it.
        await wait_until(lambda: "TLS route handshake error" in stranger.log.read_text(), 30)
        assert stranger.routes() == 0
        assert all(node.routes() >= 1 for node in tls_cluster.nodes)
        names = set()
        async with httpx.AsyncClient() as http:
            for node in tls_cluster.nodes:
                routez = await http.get(f"http://127.0.0.1:{node.http_port}/routez")
                names |= {route["remote_name"] for route in routez.json()["routes"]}
        assert "stranger" not in names
    finally:
        stop_node(stranger)


# --- clients -----------------------------------------------------------------------------


async def test_a_plaintext_client_is_refused(tls_cluster: TlsCluster) -> None:
    node = tls_cluster.nodes[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        info = await asyncio.wait_for(reader.readline(), 5)
        assert info.startswith(b"INFO ")
        assert b'"tls_required":true' in info
        writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        await writer.drain()
        # The server expects a TLS handshake; plaintext gets no PONG, only the end of the
        # connection.
        assert await asyncio.wait_for(reader.read(1024), 5) == b""
    finally:
        writer.close()


def _chain(exc: BaseException | None) -> list[BaseException]:
    found = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


async def _refused(cluster: TlsCluster, **tls: object) -> list[BaseException]:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - which one nats-py raises varies
        async with connected(cluster, "admin", **tls):
            pass
    return _chain(caught.value)


async def test_a_client_trusting_another_ca_is_refused(
    tls_cluster: TlsCluster, tmp_path: Path
) -> None:
    other = make_ca(tmp_path, "another CA")
    errors = await _refused(tls_cluster, tls=client_context(other.cert_file))
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in errors), errors


async def test_a_client_trusting_only_the_system_cas_is_refused(tls_cluster: TlsCluster) -> None:
    errors = await _refused(tls_cluster, tls=ssl.create_default_context())
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in errors), errors


async def test_a_client_dialling_a_name_the_certificate_lacks_is_refused(
    tls_cluster: TlsCluster,
) -> None:
    errors = await _refused(
        tls_cluster, tls=client_context(tls_cluster.ca), tls_hostname="nats.example.org"
    )
    verify = [e for e in errors if isinstance(e, ssl.SSLCertVerificationError)]
    assert verify, errors
    assert "nats.example.org" in str(verify[0])


async def _served_serial(node: Node, ca: Path) -> int:
    """The serial number of the certificate a node presents to a client now."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        await asyncio.wait_for(reader.readline(), 5)  # INFO, in clear; then the handshake
        await writer.start_tls(client_context(ca), server_hostname="127.0.0.1")
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return int(x509.load_der_x509_certificate(der).serial_number)


async def test_a_renewed_certificate_is_served_after_a_reload_without_a_restart(
    tls_cluster: TlsCluster,
) -> None:
    """deploy/runbook/tls.md: make-certs.sh --renew, then SIGHUP to each node."""
    await wait_until(lambda: routed(tls_cluster), timeout=30)
    old = {node.name: await _served_serial(node, tls_cluster.ca) for node in tls_cluster.nodes}
    pids = {node.name: node.process.pid for node in tls_cluster.nodes}

    make_certs(tls_cluster.certs, "--renew")
    renewed = x509.load_pem_x509_certificate((tls_cluster.certs / "nats" / "tls.crt").read_bytes())
    for node in tls_cluster.nodes:
        node.process.send_signal(signal.SIGHUP)  # start.sh exec'd nats-server: same process

    for node in tls_cluster.nodes:

        async def serves_renewed(n: Node = node) -> bool:
            return await _served_serial(n, tls_cluster.ca) == renewed.serial_number

        await wait_until(serves_renewed, timeout=10)
        assert old[node.name] != renewed.serial_number
        assert node.process.poll() is None
        assert node.process.pid == pids[node.name]
    await wait_until(lambda: routed(tls_cluster), timeout=30)
    async with connected(tls_cluster, "admin", tls_cluster.nodes[-1].url) as nc:
        await nc.flush(timeout=5)  # a round trip over the renewed certificate
        assert nc.is_connected


# --- the services and leadctl ------------------------------------------------------------


async def _stored(cluster: TlsCluster, stream: str, subject: str) -> bool:
    """Read on the second node, the other side of the route from where services write."""
    async with connected(cluster, "admin", cluster.nodes[-1].url) as nc:
        try:
            await nc.jsm().get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
    return True


async def provision(cluster: TlsCluster) -> None:
    """What leadctl.provision does as the admin, over TLS (idempotent)."""
    await wait_until(lambda: routed(cluster), timeout=30)
    async with connected(cluster, "admin") as nc:
        js = nc.jetstream()
        assert await declare_streams(js, list(Stream), REPLICAS) == []
        assert await provision_durables(js, DURABLES) == []


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def test_services_with_the_ca_take_a_report_through_the_tls_cluster(
    tls_cluster: TlsCluster, tmp_path: Path
) -> None:
    await provision(tls_cluster)
    users = write_staff(tmp_path / "users.toml")
    shared: dict[str, object] = {
        "nats_url": tls_cluster.urls,
        "nats_tls_ca_file": tls_cluster.ca,
        "users_file": users,
        "stream_replicas": REPLICAS,
    }
    intake = IntakeSettings(
        **shared,  # type: ignore[arg-type]
        nats_password=tls_cluster.passwords["intake"],
        database_url=f"sqlite:///{tmp_path / 'intake.db'}",
        identity_key=random_key(),
        receipt_key=random_key(),
        signing_key=random_key(),
        work_bits_report=4,
        work_bits_receipt=4,
    )
    ledger = LedgerSettings(
        **shared,  # type: ignore[arg-type]
        nats_password=tls_cluster.passwords["ledger"],
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
    )
    async with serving(intake_app(intake)) as intake_api, serving(ledger_app(ledger)) as ledger_api:
        for api in (intake_api, ledger_api):
            await wait_until(lambda a=api: _ready(a), timeout=30)
        answer = await intake_api.post(
            "/v1/reports",
            json={
                "category": "petition",
                "summary": f"村道旁长期堆放建筑垃圾（{secrets.token_hex(4)}）",
                "village": "shd-v01",
            },
        )
        assert answer.status_code == 201, answer.text
        lead_id = answer.json()["lead_id"]
        await wait_until(
            lambda: _stored(tls_cluster, "LEDGER", f"ledger.lead.{lead_id}.LeadRegistered"),
            timeout=30,
        )
    assert await _stored(tls_cluster, "INTAKE", f"intake.lead.{lead_id}.LeadReported")


def test_a_service_without_the_ca_cannot_reach_the_tls_cluster(tls_cluster: TlsCluster) -> None:
    """The same connection without nats_tls_ca_file: nats-py falls back to the system's CAs,
    which never signed the private CA's certificate."""

    async def attempt() -> None:
        await nats.connect(
            tls_cluster.nodes[0].url,
            user="ledger",
            password=tls_cluster.passwords["ledger"],
            allow_reconnect=False,
            connect_timeout=5,
        )

    with pytest.raises(Exception) as caught:  # noqa: PT011 - which one nats-py raises varies
        asyncio.run(attempt())
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in _chain(caught.value))


def test_leadctl_reaches_the_tls_cluster_with_its_ca(tls_cluster: TlsCluster) -> None:
    asyncio.run(provision(tls_cluster))
    nowhere = f"http://127.0.0.1:{free_port()}"
    base = ["--nats-url", tls_cluster.urls, "--user", "admin"]
    status = ["status", "--json", "--intake-url", nowhere, "--ledger-url", nowhere]
    status += ["--oversight-url", nowhere]
    env = {"LEADS_NATS_PASSWORD": tls_cluster.passwords["admin"]}

    with_ca = CliRunner().invoke(
        leadctl, [*base, "--nats-tls-ca", str(tls_cluster.ca), *status], env=env
    )
    from_env = CliRunner().invoke(
        leadctl, [*base, *status], env={**env, "LEADS_NATS_TLS_CA_FILE": str(tls_cluster.ca)}
    )
    without = CliRunner().invoke(leadctl, [*base, *status], env=env)

    assert with_ca.exit_code == 0, with_ca.output
    assert '"INTAKE"' in with_ca.output
    assert from_env.exit_code == 0, from_env.output
    assert '"INTAKE"' in from_env.output
    assert without.exit_code == 1
    assert "requires TLS" in without.output
    assert "--nats-tls-ca" in without.output


# --- PostgreSQL --------------------------------------------------------------------------


def _postgres_bindir() -> Path:
    """Where initdb and postgres are: on PATH, or Debian's versioned directory."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if debian:
        return debian[-1].parent
    reason = "PostgreSQL's server programs (initdb, postgres) are not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; the image's entrypoint drops to its own user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


LOOPBACK = ("-c", "listen_addresses=127.0.0.1")


@dataclass
class TlsPostgres:
    port: int
    ca: Path
    password: str

    def url(self, **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres?{params}"


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[TlsPostgres]:
    """A PostgreSQL server started by deploy/postgres/start.sh with its pg_hba.conf and a
    certificate from make-certs.sh; a stand-in for the image's docker-entrypoint.sh starts
    the server as the image does (as its own user)."""
    bindir = _postgres_bindir()
    # Not under pytest's directory: the postgres user must be able to reach it.
    workdir = Path(tempfile.mkdtemp(prefix="leads-tls-postgres-"))
    workdir.chmod(0o755)
    try:
        certs = workdir / "tls"
        make_certs(certs)
        password = "p" + secrets.token_hex(16)
        data, sockets = workdir / "data", workdir / "sockets"
        for directory in (data, sockets):
            directory.mkdir()
        (workdir / "pw").write_text(password)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
            shutil.chown(workdir / "pw", "postgres", "postgres")
        subprocess.run(  # noqa: S603 - initdb with fixed arguments
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(workdir / "pw"),
                    "--auth=scram-sha-256",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        shim = workdir / "bin" / "docker-entrypoint.sh"
        shim.parent.mkdir()
        as_postgres = "runuser -u postgres -- " if os.geteuid() == 0 else ""
        shim.write_text(f'#!/bin/sh\nshift\nexec {as_postgres}"{bindir}/postgres" "$@"\n')
        shim.chmod(0o755)
        port = free_port()
        log = workdir / "postgres.log"
        with log.open("ab") as output:
            server = ["-D", str(data), "-p", str(port), "-k", str(sockets)]
            process = subprocess.Popen(  # noqa: S603 - the deployment's own script
                ["sh", str(ROOT / "deploy" / "postgres" / "start.sh"), *server, *LOOPBACK],  # noqa: S607
                env={
                    "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
                    "POSTGRES_TLS_DIR": str(certs / "postgres"),
                    "POSTGRES_TLS_COPY": str(workdir / "server-tls"),
                    "POSTGRES_HBA_FILE": str(ROOT / "deploy" / "postgres" / "pg_hba.conf"),
                },
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            try:
                wait_for_port("127.0.0.1", port, timeout=30)
                # Listening is not ready: until recovery ends it answers "starting up".
                _wait_accepting(bindir, port, timeout=30)
            except TimeoutError:
                raise AssertionError(f"postgres did not start: {log.read_text()[-2000:]}") from None
            yield TlsPostgres(port=port, ca=certs / "ca.crt", password=password)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_accepting(bindir: Path, port: int, timeout: float) -> None:
    """Until the server accepts connections (pg_isready exits 0); TimeoutError after
    ``timeout`` seconds."""
    tool = shutil.which("pg_isready") or str(bindir / "pg_isready")
    deadline = time.monotonic() + timeout
    while True:
        ready = subprocess.run(  # noqa: S603 - PostgreSQL's own tool
            [tool, "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        )
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)  # the poll interval: readiness is what is awaited


def _tls_of_sync(url: str) -> tuple[bool, str]:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(SSL_IN_USE)).one()
    finally:
        engine.dispose()
    return bool(row[0]), str(row[1])


SSL_IN_USE = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def test_postgresql_speaks_tls_that_psycopg_verifies(tls_postgres: TlsPostgres) -> None:
    url = tls_postgres.url(sslmode="verify-full", sslrootcert=str(tls_postgres.ca))
    ssl_on, version = _tls_of_sync(url)
    assert ssl_on
    assert version in {"TLSv1.2", "TLSv1.3"}


async def test_a_service_database_speaks_verified_tls_on_both_engines_from_one_url(
    tls_postgres: TlsPostgres,
) -> None:
    """The service's own Database: psycopg (sync) reads libpq's parameters, asyncpg (async)
    is given the same verification; before, asyncpg was handed ``sslmode`` and refused."""
    url = tls_postgres.url(sslmode="verify-full", sslrootcert=str(tls_postgres.ca))
    database = Database(url)
    try:
        async with database.async_engine.connect() as conn:
            ssl_on, version = (await conn.execute(text(SSL_IN_USE))).one()
        with database.sync_engine.connect() as sync_conn:
            sync_ssl_on, _ = sync_conn.execute(text(SSL_IN_USE)).one()
    finally:
        await database.dispose()
    assert ssl_on
    assert sync_ssl_on
    assert version in {"TLSv1.2", "TLSv1.3"}


def test_postgresql_refuses_a_connection_without_tls(tls_postgres: TlsPostgres) -> None:
    with pytest.raises(OperationalError, match="no encryption"):
        _tls_of_sync(tls_postgres.url(sslmode="disable"))


def test_a_database_client_trusting_another_ca_is_refused(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    other = make_ca(tmp_path, "another CA").cert_file
    with pytest.raises(OperationalError, match="certificate verify failed"):
        _tls_of_sync(tls_postgres.url(sslmode="verify-full", sslrootcert=str(other)))


async def test_asyncpg_trusting_another_ca_is_refused(
    tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    other = make_ca(tmp_path, "another CA").cert_file
    bare, connect_args = asyncpg_ssl(
        async_url(tls_postgres.url(sslmode="verify-full", sslrootcert=str(other)))
    )
    engine = create_async_engine(bare, connect_args=connect_args, poolclass=NullPool)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
