"""The three services as deployed on a server with the deployment's permissions: each
under its own NATS user; and what the admin finds stored there."""

from __future__ import annotations

from pathlib import Path

from nats.js.errors import NotFoundError

from intake.settings import IntakeSettings
from ledger.settings import LedgerSettings
from oversight.settings import OversightSettings
from tests.support.apps import random_key, write_staff
from tests.support.nats_users import PermissionedServer, connected


def service_settings(server: PermissionedServer, tmp_path: Path) -> dict[str, object]:
    """Each service's settings: its own NATS user, its own SQLite file."""
    users = write_staff(tmp_path / "users.toml")
    common: dict[str, object] = {"nats_url": server.url, "users_file": users}
    return {
        "intake": IntakeSettings(
            **common,
            nats_password=server.passwords["intake"],
            database_url=f"sqlite:///{tmp_path / 'intake.db'}",
            identity_key=random_key(),
            receipt_key=random_key(),
            signing_key=random_key(),
            work_bits_report=4,
            work_bits_receipt=4,
        ),
        "ledger": LedgerSettings(
            **common,
            nats_password=server.passwords["ledger"],
            database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        ),
        "oversight": OversightSettings(
            **common,
            nats_password=server.passwords["oversight"],
            database_url=f"sqlite:///{tmp_path / 'oversight.db'}",
        ),
    }


async def is_stored(server: PermissionedServer, stream: str, subject: str) -> bool:
    """Whether the admin finds a message on ``subject`` in ``stream``."""
    async with connected(server, "admin") as admin:
        try:
            await admin.jsm.get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
    return True
