"""Fixtures shared by the intake tests (a module's own fixture of the same name wins)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.conftest import NatsTarget
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings, running


@pytest.fixture
def keys() -> Keys:
    return Keys(identity=random_key(), receipt=random_key())


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    """Every stream declared up front, as the administrator does: intake's read model also
    follows LEDGER."""
    await declare_streams(js, list(Stream))
    return js


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'intake.db'}"


@pytest.fixture
async def intake(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as client:
        yield client
