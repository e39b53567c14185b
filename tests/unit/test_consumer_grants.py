"""Every durable consumer a service makes is granted to that service's NATS user, by its
exact name, in the deployment's permission file, and to nobody else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI

from common.service import ServiceRuntime
from intake.bootstrap import create_app as intake_app
from intake.settings import IntakeSettings
from ledger.bootstrap import create_app as ledger_app
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as oversight_app
from oversight.settings import OversightSettings
from tests.support.apps import random_key

AUTH = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "auth.conf"


def _apps(tmp_path: Path) -> dict[str, FastAPI]:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    return {
        "intake": intake_app(
            IntakeSettings(database_url=db, identity_key=random_key(), receipt_key=random_key())
        ),
        "ledger": ledger_app(LedgerSettings(database_url=db)),
        "oversight": oversight_app(OversightSettings(database_url=db)),
    }


def _granted(user: str) -> set[tuple[str, str]]:
    block = AUTH.read_text().split(f"user: {user}\n", 1)[1].split("user: ", 1)[0]
    return set(re.findall(r'"\$JS\.API\.CONSUMER\.MSG\.NEXT\.(\w+)\.([\w-]+)"', block))


@pytest.mark.parametrize("service", ["intake", "ledger", "oversight"])
def test_each_consumer_a_service_makes_is_granted_to_it_by_name(
    service: str, tmp_path: Path
) -> None:
    runtime: ServiceRuntime = _apps(tmp_path)[service].state.runtime
    made = runtime.consumers()

    assert made, "the service makes consumers"
    assert made == _granted(service)


def test_no_service_is_granted_another_services_consumer() -> None:
    for user in ("intake", "ledger", "oversight"):
        assert all(name.startswith(f"{user}-") for _, name in _granted(user))
