"""leadctl as an operator meets it: checkpoints signed before and after a key rotation all
verify with the key ring, `status` asks the services where they really run, and a rebuild
as a user that may not make consumers says what to do instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from leadctl.cli import ADMIN_NEEDED
from tests.conftest import NatsTarget
from tests.support.leadctl import (
    fill,
    keygen,
    leadctl,
    leadctl_beside,
    on,
    printed,
    problems,
    succeeded,
)
from tests.support.nats_users import PermissionedServer

pytestmark = pytest.mark.integration


async def test_checkpoints_signed_before_and_after_a_key_rotation_verify_with_the_ring(
    log: None,
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    old, new = keygen(tmp_path / "old"), keygen(tmp_path / "new")
    succeeded(await leadctl_beside(*on(nats_target), "seal", "--key", old.private))
    await fill(js)  # more events, so the next checkpoint is a new one
    succeeded(await leadctl_beside(*on(nats_target), "seal", "--key", new.private))

    both = ["--public-key", old.public, "--public-key", new.public]
    ring = await leadctl_beside(*on(nats_target), "verify", *both, "--json")
    only_new = await leadctl_beside(
        *on(nats_target), "verify", "--public-key", new.public, "--json"
    )

    assert ring.exit_code == 0, ring.output
    assert problems(ring) == {}
    assert only_new.exit_code == 1, only_new.output
    assert [kind for _, kind in problems(only_new)["LEDGER"]] == ["checkpoint"]
    assert "not among the keys given" in only_new.output


def test_status_asks_each_service_where_the_operator_says_it_runs(
    log: None,
    nats_target: NatsTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there
    monkeypatch.setenv("LEADS_LEDGER_URL", elsewhere)
    shown = succeeded(
        leadctl(*on(nats_target), "status", "--json", "--intake-url", elsewhere + "/intake")
    )
    services = printed(shown)["services"]
    assert services["ledger"]["status"] == "unreachable"
    assert services["intake"]["status"] == "unreachable"


async def test_a_rebuild_as_a_user_that_may_not_make_consumers_says_to_run_it_as_the_admin(
    permissioned: PermissionedServer, tmp_path: Path
) -> None:
    assert await permissioned.provision() == []
    as_leadctl = [
        "--nats-url",
        permissioned.url,
        "--user",
        "leadctl",
        "--password",
        permissioned.passwords["leadctl"],
    ]
    as_admin = [
        "--nats-url",
        permissioned.url,
        "--user",
        "admin",
        "--password",
        permissioned.passwords["admin"],
    ]
    live = f"sqlite:///{tmp_path / 'live.db'}"
    # A ledger database as the service would have it: rebuilt by the admin.
    succeeded(await leadctl_beside(*as_admin, "replay", "ledger", "--db", live))
    checked = await leadctl_beside(
        *as_leadctl, "verify", "--projection", "ledger", "--live-db", live
    )
    rebuilt = await leadctl_beside(
        *as_leadctl, "replay", "ledger", "--db", f"sqlite:///{tmp_path / 'r.db'}"
    )

    for result in (checked, rebuilt):
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "--user admin" in result.output
    assert ADMIN_NEEDED.split(":")[0] in " ".join(checked.output.split())
