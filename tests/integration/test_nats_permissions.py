"""The broker's permissions are tested one story a file (test_nats_provisioning.py,
test_nats_own_work.py, test_nats_service_users.py, test_nats_denials.py), on the
``provisioned`` fixture of this folder's conftest. This module only keeps what
test_reply_forgery.py imports from here; it holds no tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.subjects import Stream
from tests.support.nats_users import PermissionedServer, permissioned_server
from tests.support.service_users import is_stored as _stored
from tests.support.service_users import service_settings as _settings

__all__ = ["_settings", "_stored", "nats_server", "streams"]


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
async def streams(nats_server: PermissionedServer) -> list[Stream]:
    """Provisioned as `make run`, compose and Kubernetes do: streams and durables, as admin."""
    assert await nats_server.provision() == []
    return list(Stream)
