"""The three services made for one test: the test's NATS server, a SQLite database each, and
one users file they all read (as in a deployment, where every service is given the same)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from intake.bootstrap import create_app as create_intake
from ledger.bootstrap import create_app as create_ledger
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as create_oversight
from oversight.settings import OversightSettings
from tests.conftest import NatsTarget
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings

SERVICES = ("intake", "ledger", "oversight")


def create_service(name: str, nats_target: NatsTarget, tmp_path: Path, users_file: Path) -> FastAPI:
    database_url = f"sqlite:///{tmp_path / f'{name}.db'}"
    if name == "intake":
        keys = Keys(identity=random_key(), receipt=random_key())
        settings = intake_settings(nats_target, database_url, tmp_path, keys)
        return create_intake(settings.model_copy(update={"users_file": users_file}))
    if name == "ledger":
        return create_ledger(
            LedgerSettings(
                nats_url=nats_target.url, database_url=database_url, users_file=users_file
            )
        )
    return create_oversight(
        OversightSettings(
            nats_url=nats_target.url, database_url=database_url, users_file=users_file
        )
    )
