"""Service settings from the environment: safe defaults, and no placeholders in production."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from ledger.settings import LedgerSettings
from tests.support.apps import random_key, write_staff
from tests.support.certificates import make_ca

POSTGRES_URL = "postgresql+psycopg://ledger:pw@db.example:5432/ledger"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LEDGER_ variable of the machine running the tests leaks into them."""
    for name in LedgerSettings.model_fields:
        monkeypatch.delenv(f"LEDGER_{name.upper()}", raising=False)


def test_development_defaults_use_a_sqlite_file_under_var_ledger() -> None:
    settings = LedgerSettings()
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert Path(settings.database_url.removeprefix("sqlite:///")).parent == Path("var/ledger")


def test_development_defaults_connect_to_nats_as_the_ledger_user() -> None:
    assert LedgerSettings().nats_user == "ledger"


def test_the_ledger_listens_on_port_8102_by_default() -> None:
    assert LedgerSettings().http_port == 8102


def test_settings_are_read_from_ledger_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_HTTP_PORT", "9000")
    monkeypatch.setenv("LEDGER_NATS_USER", "ledger-2")
    settings = LedgerSettings()
    assert settings.http_port == 9000
    assert settings.nats_user == "ledger-2"


@pytest.mark.parametrize("password", ["", "change-me", "changeme", "password", "secret", "dev"])
def test_production_refuses_a_placeholder_nats_password(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", password)
    with pytest.raises(ValidationError, match="nats_password"):
        LedgerSettings()


def test_production_refuses_an_unset_nats_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_DATABASE_URL", POSTGRES_URL)
    with pytest.raises(ValidationError, match="nats_password"):
        LedgerSettings()


def test_production_refuses_a_sqlite_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", "a-real-secret-4f9c")
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:///var/ledger/ledger.db")
    with pytest.raises(ValidationError, match="database_url"):
        LedgerSettings()


def test_production_refuses_the_default_sqlite_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", "a-real-secret-4f9c")
    with pytest.raises(ValidationError, match="database_url"):
        LedgerSettings()


def test_production_accepts_a_real_password_and_a_postgresql_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Everything else production asks for (tests/unit/test_production_settings.py): TLS to
    # NATS and to PostgreSQL, random keys, a users file.
    ca = make_ca(tmp_path).cert_file
    database_url = f"{POSTGRES_URL}?sslmode=verify-full&sslrootcert={ca}"
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", "a-real-secret-4f9c")
    monkeypatch.setenv("LEDGER_NATS_TLS_CA_FILE", str(ca))
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_ACCOUNTS_KEY", random_key())
    monkeypatch.setenv("LEDGER_SESSION_KEY", random_key())
    monkeypatch.setenv("LEDGER_FILES_KEY", random_key())
    monkeypatch.setenv("LEDGER_USERS_FILE", str(write_staff(tmp_path / "users.toml")))
    settings = LedgerSettings()
    assert settings.environment == "production"
    assert settings.database_url == database_url
    assert settings.nats_password.get_secret_value() == "a-real-secret-4f9c"


def test_production_refuses_to_start_without_the_accounts_and_session_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", "a-real-secret-4f9c")
    monkeypatch.setenv("LEDGER_DATABASE_URL", POSTGRES_URL)
    with pytest.raises(ValidationError, match="accounts_key and session_key"):
        LedgerSettings()


def test_a_short_or_malformed_key_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="session_key must be 32 bytes"):
        LedgerSettings(session_key=base64.b64encode(b"short").decode())
    with pytest.raises(ValidationError, match="accounts_key must be 32 bytes"):
        LedgerSettings(accounts_key=base64.b64encode(b"k" * 40).decode())
    with pytest.raises(ValidationError, match="accounts_key must be base64"):
        LedgerSettings(accounts_key="not base64 at all!")


def test_the_nats_password_is_not_shown_when_settings_are_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_NATS_PASSWORD", "a-real-secret-4f9c")
    assert "a-real-secret-4f9c" not in repr(LedgerSettings())


def test_nats_servers_splits_a_comma_list_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_NATS_URL", "nats://a:4222, nats://b:4222 ,,nats://c:4222")
    assert LedgerSettings().nats_servers == ["nats://a:4222", "nats://b:4222", "nats://c:4222"]


def test_a_single_nats_url_is_one_server() -> None:
    assert LedgerSettings().nats_servers == ["nats://127.0.0.1:4333"]
