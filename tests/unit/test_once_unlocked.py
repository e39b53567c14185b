"""Work that meets a locked SQLite database waits for the lock; anything else fails at once."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from common.database import once_unlocked


def locked() -> OperationalError:
    return OperationalError("CREATE TABLE x", {}, Exception("database is locked"))


async def test_work_meeting_a_lock_is_tried_again_until_it_goes() -> None:
    tries = []

    async def work() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise locked()
        return "done"

    assert await once_unlocked(work, "test", patience=30) == "done"
    assert len(tries) == 3


async def test_any_other_database_error_is_raised_at_once() -> None:
    tries = []

    async def work() -> None:
        tries.append(1)
        raise OperationalError("SELECT", {}, Exception("no such table: x"))

    with pytest.raises(OperationalError, match="no such table"):
        await once_unlocked(work, "test")
    assert len(tries) == 1


async def test_a_lock_that_outlasts_the_patience_is_raised() -> None:
    async def work() -> None:
        raise locked()

    with pytest.raises(OperationalError, match="locked"):
        await once_unlocked(work, "test", patience=0)
