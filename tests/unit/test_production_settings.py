"""In production a service refuses, at start and naming the setting, what would leave it
unsafe: plaintext to NATS or PostgreSQL, a placeholder password, a key anyone can guess, no
users file. The shipped example files' placeholders are each refused by someone."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from common.settings import ServiceSettings
from common.tls import asyncpg_ssl
from intake.settings import IntakeSettings
from ledger.settings import LedgerSettings
from oversight.settings import OversightSettings
from tests.support.apps import random_key, write_staff
from tests.support.certificates import make_ca

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (ROOT / "deploy" / ".env.example", ROOT / "deploy" / "k8s" / "secrets.env.example")
SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "ledger": LedgerSettings,
    "oversight": OversightSettings,
}
ZEROS = base64.b64encode(bytes(32)).decode()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No service variable of the machine running the tests leaks into them."""
    for prefix in ("INTAKE_", "LEDGER_", "OVERSIGHT_"):
        for name in list(os.environ):
            if name.startswith(prefix):
                monkeypatch.delenv(name)


Production = Callable[..., ServiceSettings]


@pytest.fixture
def production(tmp_path: Path) -> Production:
    """A service's complete, safe production settings, with some of them replaced."""
    ca = make_ca(tmp_path / "ca").cert_file
    users = write_staff(tmp_path / "users.toml")

    def build(service: str = "ledger", **changed: object) -> ServiceSettings:
        values: dict[str, object] = {
            "environment": "production",
            "nats_password": "p" + os.urandom(8).hex(),
            "nats_tls_ca_file": ca,
            "database_url": f"postgresql+asyncpg://{service}:p4f9c21@postgres:5432/{service}"
            f"?sslmode=verify-full&sslrootcert={ca}",
            "accounts_key": random_key(),
            "session_key": random_key(),
            "users_file": users,
        }
        if service == "intake":
            values |= {k: random_key() for k in ("identity_key", "receipt_key", "signing_key")}
        if service == "ledger":
            values["files_key"] = random_key()
        values |= changed
        return SETTINGS[service](**values)  # type: ignore[arg-type]

    return build


def refusal(build: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as caught:
        build()
    return str(caught.value)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_a_complete_production_configuration_starts(production: Production, service: str) -> None:
    settings = production(service)
    assert settings.environment == "production"
    assert settings.nats_tls_ca_file is not None


def test_production_refuses_to_reach_nats_without_tls(production: Production) -> None:
    assert "nats_tls_ca_file must be set in production" in refusal(
        lambda: production(nats_tls_ca_file=None)
    )


def test_a_missing_nats_ca_file_is_refused_in_every_environment(
    production: Production, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "ca.crt"
    assert f"nats_tls_ca_file: no CA certificate file at {missing}" in refusal(
        lambda: LedgerSettings(nats_tls_ca_file=missing)
    )
    assert "nats_tls_ca_file: no CA certificate" in refusal(
        lambda: production(nats_tls_ca_file=missing)
    )


def test_a_nats_ca_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.crt"
    garbage.write_text(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    )
    assert "is not a readable PEM CA certificate" in refusal(
        lambda: LedgerSettings(nats_tls_ca_file=garbage)
    )


@pytest.mark.parametrize(
    "query",
    ["", "?sslmode=disable", "?sslmode=prefer", "?sslmode=require", "?ssl=true"],
)
def test_production_refuses_postgresql_without_a_checked_certificate(
    production: Production, query: str
) -> None:
    url = f"postgresql://ledger:p4f9c21@postgres:5432/ledger{query}"
    assert "database_url must ask for TLS that checks the server" in refusal(
        lambda: production(database_url=url)
    )


def test_production_accepts_verify_ca_as_well_as_verify_full(production: Production) -> None:
    url = "postgresql://ledger:p4f9c21@postgres/ledger?sslmode=verify-ca&sslrootcert=/ca.crt"
    assert production(database_url=url).database_url == url


@pytest.mark.parametrize("password", ["changethis", "CHANGETHIS", "change-me", "password", ""])
def test_production_refuses_a_placeholder_database_password(
    production: Production, password: str
) -> None:
    url = f"postgresql://ledger:{password}@postgres/ledger?sslmode=verify-full&sslrootcert=/c"
    assert "database_url carries a placeholder password" in refusal(
        lambda: production(database_url=url)
    )


def test_a_database_url_without_a_password_is_left_to_the_server(production: Production) -> None:
    """No password in the URL: a client certificate or a password file may stand for it."""
    url = "postgresql://ledger@postgres/ledger?sslmode=verify-full&sslrootcert=/ca.crt"
    assert production(database_url=url).database_url == url


def test_production_refuses_a_missing_users_file(production: Production, tmp_path: Path) -> None:
    missing = tmp_path / "users" / "ledger.toml"
    message = refusal(lambda: production(users_file=missing))
    assert f"users_file {missing} does not exist" in message
    assert "no API users" in message


def test_development_warns_of_a_missing_users_file(tmp_path: Path) -> None:
    missing = tmp_path / "users.toml"
    with structlog.testing.capture_logs() as logs:
        settings = LedgerSettings(users_file=missing)
    assert settings.users_file == missing
    warned = [entry for entry in logs if entry["event"] == "users_file_missing"]
    assert warned
    assert warned[0]["log_level"] == "warning"
    assert warned[0]["users_file"] == str(missing)


def test_development_says_nothing_when_the_users_file_is_there(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        LedgerSettings(users_file=write_staff(tmp_path / "users.toml"))
    assert not [entry for entry in logs if entry["event"] == "users_file_missing"]


@pytest.mark.parametrize(
    ("service", "name"),
    [
        ("ledger", "accounts_key"),
        ("oversight", "session_key"),
        ("intake", "identity_key"),
        ("intake", "receipt_key"),
        ("intake", "signing_key"),
        ("intake", "accounts_key"),
    ],
)
@pytest.mark.parametrize("byte", [0x00, 0xFF, ord("a")])
def test_production_refuses_a_key_of_one_byte_repeated(
    production: Production, service: str, name: str, byte: int
) -> None:
    degenerate = base64.b64encode(bytes([byte]) * 32).decode()
    message = refusal(lambda: production(service, **{name: degenerate}))
    assert f"{name} is one byte repeated" in message


def test_development_still_takes_all_zero_keys(tmp_path: Path) -> None:
    """Tests and ``make run`` may use fixed keys; only production refuses them."""
    settings = IntakeSettings(
        users_file=write_staff(tmp_path / "users.toml"),
        identity_key=ZEROS,
        receipt_key=base64.b64encode(b"\x01" * 32).decode(),
        signing_key=base64.b64encode(b"\x02" * 32).decode(),
        accounts_key=ZEROS,
    )
    assert settings.identity_key_bytes == bytes(32)


def test_every_problem_is_named_at_once(production: Production, tmp_path: Path) -> None:
    """One failed start shows the operator everything to fix, not one thing a time."""
    message = refusal(
        lambda: production(
            nats_tls_ca_file=None,
            database_url="postgresql://ledger:changethis@postgres/ledger",
            session_key=ZEROS,
            users_file=tmp_path / "absent.toml",
        )
    )
    for named in (
        "nats_tls_ca_file",
        "placeholder password",
        "sslmode",
        "session_key",
        "users_file",
    ):
        assert named in message


# --- the shipped examples: every placeholder is refused by whoever reads it --------------

# Where each example variable ends up in a service's settings (as compose and the
# Kubernetes manifests pass them on).
SERVICE_VARIABLES: dict[str, list[tuple[str, str]]] = {
    "NATS_INTAKE_PASSWORD": [("intake", "nats_password")],
    "NATS_LEDGER_PASSWORD": [("ledger", "nats_password")],
    "NATS_OVERSIGHT_PASSWORD": [("oversight", "nats_password")],
    "INTAKE_DB_PASSWORD": [("intake", "database password")],
    "LEDGER_DB_PASSWORD": [("ledger", "database password")],
    "OVERSIGHT_DB_PASSWORD": [("oversight", "database password")],
    "INTAKE_IDENTITY_KEY": [("intake", "identity_key")],
    "INTAKE_RECEIPT_KEY": [("intake", "receipt_key")],
    "INTAKE_SIGNING_KEY": [("intake", "signing_key")],
    "LEDGER_FILES_KEY": [("ledger", "files_key")],
    "ACCOUNTS_KEY": [(s, "accounts_key") for s in sorted(SETTINGS)],
    "INTAKE_SESSION_KEY": [("intake", "session_key")],
    "LEDGER_SESSION_KEY": [("ledger", "session_key")],
    "OVERSIGHT_SESSION_KEY": [("oversight", "session_key")],
}
# Read by the NATS nodes' start script, which refuses them (tested below).
NODE_VARIABLES = (
    "NATS_INTAKE_PASSWORD",
    "NATS_LEDGER_PASSWORD",
    "NATS_OVERSIGHT_PASSWORD",
    "NATS_LEADCTL_PASSWORD",
    "NATS_ADMIN_PASSWORD",
)
# Read by PostgreSQL's first start (deploy/postgres/init.sql refuses them).
DATABASE_VARIABLES = (
    "POSTGRES_PASSWORD",
    "INTAKE_DB_PASSWORD",
    "LEDGER_DB_PASSWORD",
    "OVERSIGHT_DB_PASSWORD",
)


def placeholders(example: Path) -> list[str]:
    found = []
    for line in example.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == "changethis":
            found.append(name.strip())
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_placeholder_of_the_examples_has_a_reader_that_refuses_it(example: Path) -> None:
    found = placeholders(example)
    assert found, f"{example.name} ships no placeholder: the test reads the wrong file"
    unchecked = [
        name
        for name in found
        if name not in SERVICE_VARIABLES
        and name not in NODE_VARIABLES
        and name not in DATABASE_VARIABLES
    ]
    assert not unchecked, f"nothing refuses these placeholders of {example.name}: {unchecked}"


@pytest.mark.parametrize(
    ("variable", "service", "setting"),
    [(v, s, setting) for v, places in SERVICE_VARIABLES.items() for s, setting in places],
)
def test_each_service_placeholder_is_refused_in_production(
    production: Production, variable: str, service: str, setting: str
) -> None:
    if setting == "database password":
        url = f"postgresql://{service}:changethis@postgres/{service}?sslmode=verify-full&sslrootcert=/c"
        message = refusal(lambda: production(service, database_url=url))
        assert "database_url carries a placeholder password" in message
        return
    message = refusal(lambda: production(service, **{setting: "changethis"}))
    assert setting in message


def test_the_ledger_refuses_production_without_a_files_key_or_with_a_guessable_one(
    production: Production,
) -> None:
    assert "files_key must be set in production" in refusal(lambda: production(files_key=""))
    assert "files_key is one byte repeated" in refusal(lambda: production(files_key=ZEROS))
    # Development has a key of its own: make run and the tests store and read files.
    assert len(LedgerSettings().files_key_bytes) == 32


@pytest.mark.parametrize("variable", NODE_VARIABLES)
def test_a_nats_node_refuses_each_placeholder_password(variable: str) -> None:
    env = {name: "p" + os.urandom(8).hex() for name in NODE_VARIABLES}
    env |= {variable: "changethis", "PATH": os.environ["PATH"]}
    done = subprocess.run(  # noqa: S603 - our own script
        ["sh", str(ROOT / "deploy" / "nats" / "start.sh")],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 1
    assert f"refusing to start: {variable}" in done.stderr


def psql_target() -> list[str]:
    """psql's connection options for the test server (DATABASE_URL), or a skip saying why."""
    url = os.environ.get("DATABASE_URL")
    psql = shutil.which("psql")
    missing = "DATABASE_URL is unset" if not url else "psql is not installed" if not psql else ""
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"init.sql's refusals need a PostgreSQL server: {missing}")
        pytest.skip(f"init.sql's refusals need a PostgreSQL server: {missing}")
    parsed = make_url(url or "")
    return [
        psql or "psql",
        "-X",
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        "-d",
        parsed.database or "postgres",
    ]


@pytest.mark.parametrize("variable", [*DATABASE_VARIABLES, "unset INTAKE_DB_PASSWORD"])
def test_postgresql_first_start_refuses_each_placeholder_password(variable: str) -> None:
    """Run against the test server in one transaction: CREATE DATABASE cannot run in one, so
    even a script that failed to refuse would leave no role behind."""
    command = psql_target()
    env = {name: "p" + os.urandom(8).hex() for name in DATABASE_VARIABLES}
    if variable.startswith("unset "):
        variable = variable.removeprefix("unset ")
        del env[variable]
    else:
        env[variable] = "changethis"
    done = subprocess.run(  # noqa: S603 - psql with fixed arguments
        [*command, "--single-transaction", "-f", str(ROOT / "deploy" / "postgres" / "init.sql")],
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert f"refusing to create the databases: {variable} is empty or a placeholder" in done.stderr
    assert "CREATE ROLE" not in done.stdout


# --- one PostgreSQL URL for both drivers -------------------------------------------------


def test_asyncpg_gets_a_verifying_context_from_libpq_parameters(tmp_path: Path) -> None:
    ca = make_ca(tmp_path).cert_file
    url = f"postgresql+asyncpg://u:p@db:5432/x?sslmode=verify-full&sslrootcert={ca}&a=b"
    bare, connect_args = asyncpg_ssl(url)
    assert dict(bare.query) == {"a": "b"}
    context = connect_args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_verify_ca_checks_the_certificate_but_not_the_name(tmp_path: Path) -> None:
    ca = make_ca(tmp_path).cert_file
    _, connect_args = asyncpg_ssl(f"postgresql://u:p@db/x?sslmode=verify-ca&sslrootcert={ca}")
    assert not connect_args["ssl"].check_hostname
    assert connect_args["ssl"].verify_mode == ssl.CERT_REQUIRED


def test_weaker_sslmodes_and_none_pass_through() -> None:
    assert asyncpg_ssl("postgresql://u:p@db/x?sslmode=require")[1] == {"ssl": "require"}
    assert asyncpg_ssl("postgresql://u:p@db/x")[1] == {}


def test_a_verifying_sslmode_without_its_ca_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="sslmode=verify-full needs one sslrootcert"):
        asyncpg_ssl("postgresql://u:p@db/x?sslmode=verify-full")
