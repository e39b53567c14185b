"""What every service's application layer shares.

A command is a plain frozen value; one handler per command loads the lead's own events,
decides with the domain's pure rules, and appends with the lead's last sequence. Routes,
pages, the importer and background jobs only translate into commands. Two patterns recur
around that core and are said here once: deciding again when another writer got in first,
and the background round "for each due item, decide and append, skip what changed"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TypeVar

import structlog

from common.eventstore import ConcurrencyConflict

log = structlog.get_logger(__name__)

T = TypeVar("T")
K = TypeVar("K")

# A decision taken by the service itself (not a person's command) is taken again on the new
# history this often before the lead is left to the next round or a redelivery. Enough for
# every writer a lead has at once (a person, the registrar, the duplicate detector).
AUTOMATIC_ATTEMPTS: Final = 5


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T]], *, attempts: int = AUTOMATIC_ATTEMPTS
) -> T:
    """Run ``attempt`` (load, decide, append) again while another writer got in first.

    Only for decisions the service takes itself: a person's command answers 409 at the
    first conflict, since what they decided on has changed under them. The last conflict is
    raised when every attempt lost."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for _ in range(attempts - 1):
        try:
            return await attempt()
        except ConcurrencyConflict:
            continue
    return await attempt()


async def for_each_due(items: Iterable[K], act: Callable[[K], Awaitable[bool]], *, job: str) -> int:
    """A background round: ``act`` decides and appends for one due item (True when it
    recorded something). An item that changed meanwhile is skipped, not retried: the next
    round decides on it again. Returns how many items recorded something."""
    done = 0
    for item in items:
        try:
            if await act(item):
                done += 1
        except ConcurrencyConflict:
            log.info("due_item_changed", job=job)
    return done
