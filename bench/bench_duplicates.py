"""Duplicate detection at two sizes of history: the detector's cost per new report with
1,000 and with 100,000 earlier reports in intake's table (``BENCH_DUPLICATES_LARGE`` asks
for another size, e.g. 1000000; seeding 100,000 takes about a minute here, the whole
script two), side by side with the exact scan it replaced, and the share of the exact
scan's links the index finds.

The history is the worst case for a scan: every earlier report within the half-year window,
across 5 categories and 2,000 villages (a county), a tenth of them retellings of an earlier
report. The table is seeded directly (shingles and bands as the detector writes them), into
SQLite; each new report then goes through the detector itself (its reads, its exact
confirmation and its writes), without the JetStream append of a link, which costs the same
at any size."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, event, select

from bench.duplicate_corpus import Report, corpus
from common.database import Database, sync_engine
from common.events.catalogue import LeadReported
from common.migrations import upgrade
from common.vocabulary import Channel
from intake.domain.matters import band_keys, shingles, similarity
from intake.duplicates import LOOK_BACK, DuplicateDetector, band_rows, matter_bands, matters

SMALL = 1_000
LARGE = int(os.environ.get("BENCH_DUPLICATES_LARGE", "100000"))
PROBES = int(os.environ.get("BENCH_DUPLICATES_PROBES", "300"))
ROUNDS = 6
RECALL_REPORTS = int(os.environ.get("BENCH_DUPLICATES_RECALL", "20000"))
RECALL_VILLAGES = 40
VILLAGES = 2_000
THRESHOLD = 0.6
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _scratch_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # A scratch file: nothing to keep across a crash, and a cache large enough that the band
    # index (random keys) is not read back from disk at every page.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-1000000")
    cursor.close()


def seed(path: Path, history: list[Report]) -> None:
    """The table as the detector would have left it, written in one transaction."""
    engine = sync_engine(f"sqlite:///{path}")
    upgrade(engine, "intake")
    spacing = (LOOK_BACK - timedelta(days=1)) / len(history)
    start = NOW - LOOK_BACK + timedelta(hours=12)
    engine.dispose()
    engine = sync_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _scratch_pragmas)
    with engine.connect() as conn:
        page = 5_000
        for first in range(0, len(history), page):
            rows, bands = [], []
            for number, report in enumerate(history[first : first + page], first):
                marks = shingles(report.text)
                at = start + spacing * number
                lead_id = f"h{number:09d}"
                rows.append(
                    {
                        "lead_id": lead_id,
                        "village": report.village,
                        "category": report.category.value,
                        "shingles": " ".join(sorted(marks)),
                        "reported_at": at,
                    }
                )
                bands += band_rows(lead_id, report.village, report.category.value, marks, at)
            conn.execute(matters.insert(), rows)
            conn.execute(matter_bands.insert(), bands)
        # Once: each commit rewrites every page of the band index it touched, and random
        # keys touch nearly all of them.
        conn.commit()
    engine.dispose()


def reported(report: Report, at: datetime) -> LeadReported:
    # Only what the detector reads: the bench times matching, not event validation.
    return LeadReported.model_construct(
        event_id=str(uuid.uuid4()),
        lead_id=uuid.uuid4().hex,
        category=report.category,
        village=report.village,
        summary=report.text,
        details="",
        occurred_at=at,
        correlation_id=None,
        reporter=None,  # type: ignore[arg-type]
        channel=Channel.HOTLINE,
    )


async def scan_best(db: Database, event: LeadReported) -> tuple[str | None, float]:
    """The detector before the index: every earlier report of the category and village."""
    mine = shingles(f"{event.summary} {event.details}")
    village: ColumnElement[bool] = matters.c.village.is_(None)
    if event.village:
        village = village | (matters.c.village == event.village)
    else:
        village = village | matters.c.village.is_not(None)
    async with db.async_engine.connect() as conn:
        result = await conn.execute(
            select(matters.c.lead_id, matters.c.shingles)
            .where(matters.c.category == event.category.value)
            .where(matters.c.lead_id != event.lead_id)
            .where(matters.c.reported_at >= event.occurred_at - LOOK_BACK)
            .where(matters.c.reported_at < event.occurred_at)
            .where(village)
            .order_by(matters.c.reported_at, matters.c.lead_id)
        )
        best_id, best = None, 0.0
        for row in result:
            score = similarity(mine, frozenset(row.shingles.split(" ")))
            if score > best:
                best_id, best = row.lead_id, score
    return best_id, best


class _Links:
    """Stands in for the intake stream: records the link the detector would append."""

    def __init__(self) -> None:
        self.named: dict[str, str] = {}

    async def read_lead(self, _lead_id: str) -> Any:
        return SimpleNamespace(events=[])

    async def append(self, event: Any) -> None:
        self.named[event.lead_id] = event.duplicate_of


@dataclass
class Side:
    """One history, its detector and the reports still to come."""

    size: int
    db: Database
    keeper: sqlite3.Connection
    detector: DuplicateDetector
    links: _Links
    probes: list[LeadReported]
    seeding: float
    costs: list[float] = field(default_factory=list)
    scans: list[float] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)


async def prepare(size: int, scratch: Path) -> Side:
    reports = corpus(seed=size, villages=VILLAGES)
    history = list(itertools.islice(reports, size))
    probes = list(itertools.islice(reports, PROBES))
    path = scratch / f"history-{size}.db"
    started = time.perf_counter()
    seed(path, history)
    seeding = time.perf_counter() - started
    db = Database(f"sqlite+aiosqlite:///{path}")
    links = _Links()
    runtime = SimpleNamespace(database=db, store=lambda _stream: links)
    return Side(
        size=size,
        db=db,
        # A running intake holds other connections to its database; without one, SQLite
        # checkpoints the WAL (an fsync) each time the detector's connection closes.
        keeper=sqlite3.connect(path),
        detector=DuplicateDetector(runtime, THRESHOLD),  # type: ignore[arg-type]
        links=links,
        probes=[reported(r, NOW + timedelta(seconds=i)) for i, r in enumerate(probes)],
        seeding=seeding,
    )


async def run_turn(side: Side, turn: slice) -> None:
    """Some of the side's new reports: first the exact scan's answer (it only reads, so it
    sees the history the detector will), then the detector itself."""
    for probe in side.probes[turn]:
        began = time.perf_counter()
        best_id, best = await scan_best(side.db, probe)
        side.scans.append(time.perf_counter() - began)
        if best_id is not None and best >= THRESHOLD:
            side.expected[probe.lead_id] = best_id
        began = time.perf_counter()
        await side.detector(probe)
        side.costs.append(time.perf_counter() - began)


def recall(reports: int, villages: int) -> tuple[int, int, int, int]:
    """Against the exact comparison of every pair of one bucket (category and village): of
    the pairs at or above the threshold, and of those below 0.7, how many share a band."""
    buckets: dict[tuple[str, str | None], list[tuple[frozenset[str], set[int]]]] = {}
    alike = found = near = near_found = 0
    for report in itertools.islice(corpus(seed=7, villages=villages), reports):
        marks = shingles(report.text)
        keys = set(band_keys(report.category.value, marks))
        bucket = buckets.setdefault((report.category.value, report.village), [])
        for other, other_keys in bucket:
            score = similarity(marks, other)
            if score >= THRESHOLD:
                shared = bool(keys & other_keys)
                alike, found = alike + 1, found + shared
                if score < 0.7:
                    near, near_found = near + 1, near_found + shared
        bucket.append((marks, keys))
    return found, alike, near_found, near


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        sides = [await prepare(SMALL, Path(scratch)), await prepare(LARGE, Path(scratch))]
        # In turns, so both sizes meet the same load on a shared machine.
        step = max(1, PROBES // ROUNDS)
        for start in range(0, PROBES, step):
            for side in sides:
                await run_turn(side, slice(start, start + step))
        for side in sides:
            await side.db.dispose()
            side.keeper.close()
    for side in sides:
        found = sum(side.links.named.get(k) == v for k, v in side.expected.items())
        print(
            f"duplicate detection with {side.size:,} earlier reports: "
            f"{statistics.median(side.costs) * 1000:.2f} ms per report "
            f"(p90 {statistics.quantiles(side.costs, n=10)[8] * 1000:.2f} ms); exact scan "
            f"(before): {statistics.median(side.scans) * 1000:.2f} ms; links found "
            f"{found}/{len(side.expected)} of the scan's (seeded in {side.seeding:.0f} s)"
        )
    small, large = (statistics.median(side.costs) for side in sides)
    small_scan, large_scan = (statistics.median(side.scans) for side in sides)
    print(
        f"duplicate detection, {LARGE:,} against {SMALL:,} earlier reports: "
        f"{large / small:.2f}x the cost per report (target: independent of history size; "
        f"the exact scan: {large_scan / small_scan:.0f}x)"
    )
    found, alike, near_found, near = recall(RECALL_REPORTS, RECALL_VILLAGES)
    print(
        f"duplicate index recall against the exact comparison, {RECALL_REPORTS:,} reports: "
        f"{found}/{alike} pairs at >= {THRESHOLD} share a band ({found / alike:.2%}); "
        f"{near_found}/{near} of those in [{THRESHOLD}, 0.7)"
    )


if __name__ == "__main__":
    asyncio.run(main())
