"""Duplicate detection at two sizes of history: the detector's cost per new report with
1,000 earlier reports in intake's table and with 100,000 (what ``make bench`` seeds within
its budget), or 1,000,000 with ``BENCH_SCALE=1`` (``BENCH_DUPLICATES_LARGE`` asks for any
other size); side by side with the exact scan it replaced, the share of the exact scan's
links the index finds, the earlier reports in a report's scope sharing a band with it (which
grow with the history) and those it confirms exactly (the ones sharing the most, bounded).

The history is the worst case for a scan: every earlier report within the half-year window,
across 5 categories and 2,000 villages (a county), a tenth of them retellings of an earlier
report, one in twenty of unknown village (in the scope of every report of its category). The
tables are seeded in bulk (shingles and bands as the detector writes them) into SQLite; each
new report then goes through the detector itself (its reads, its exact confirmation and its
writes), without the JetStream append of a link, which costs the same at any size.

    BENCH_SCALE=1 python -m bench.bench_duplicates"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from bench.duplicate_corpus import Report, corpus
from common.database import Database, sync_engine
from common.events.catalogue import LeadReported
from common.migrations import upgrade
from common.vocabulary import Channel
from intake.domain.matters import BANDS, band_keys, shingles, similarity
from intake.duplicates import (
    LOOK_BACK,
    MAX_CONFIRMED,
    UNKNOWN_VILLAGE,
    DuplicateDetector,
    matter_bands,
    matters,
    near_reports,
    sharing_reports,
)

SMALL = 1_000
MILLION = 1_000_000


def large_size() -> int:
    explicit = os.environ.get("BENCH_DUPLICATES_LARGE")
    if explicit:
        return int(explicit)
    scale = os.environ.get("BENCH_SCALE", "").strip().lower().replace("_", "")
    return MILLION if scale in ("1", "1m") else 100_000


LARGE = large_size()
PROBES = int(os.environ.get("BENCH_DUPLICATES_PROBES", "300"))
ROUNDS = 6
RECALL_REPORTS = int(os.environ.get("BENCH_DUPLICATES_RECALL", "20000"))
RECALL_VILLAGES = 40
VILLAGES = 2_000
THRESHOLD = 0.6
TARGET_RATIO = 1.5
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _keyed(chunk: list[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
    """The stored shingles and the band keys of some reports (category, text), as the
    detector computes them; in a worker process, as this is most of the seeding's CPU."""
    stored = []
    keys = np.empty((len(chunk), BANDS), dtype=np.int64)
    for number, (category, text) in enumerate(chunk):
        marks = shingles(text)
        stored.append(" ".join(sorted(marks)))
        keys[number] = band_keys(category, marks)
    return stored, keys


def seed(path: Path, history: list[Report]) -> None:
    """The tables as the detector would have left them after ``history``, in bulk: the band
    keys computed on every core, the bands written in their key's order (each row appended
    to the index instead of landing on a random page of it), in one transaction without a
    journal (a scratch file: a crash leaves nothing worth keeping)."""
    engine = sync_engine(f"sqlite:///{path}")
    upgrade(engine, "intake")
    engine.dispose()
    chunk = 5_000
    work = [
        [(r.category.value, r.text) for r in history[first : first + chunk]]
        for first in range(0, len(history), chunk)
    ]
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=get_context("fork")) as pool:
        keyed = list(pool.map(_keyed, work))
    stored = [text for part, _ in keyed for text in part]
    keys = np.concatenate([part for _, part in keyed])
    dialect = sqlite_dialect()
    moment = matters.c.reported_at.type.dialect_impl(dialect).bind_processor(dialect)
    spacing = (LOOK_BACK - timedelta(days=1)) / len(history)
    start = NOW - LOOK_BACK + timedelta(hours=12)
    ats = [moment(start + spacing * number) for number in range(len(history))]
    ids = [f"h{number:09d}" for number in range(len(history))]
    villages = [r.village or UNKNOWN_VILLAGE for r in history]
    # The bands' primary key order: key, village, moment, lead (the last two rise with the
    # report's number).
    names = sorted(set(villages))
    rank = {name: place for place, name in enumerate(names)}
    village_ranks = np.array([rank[v] for v in villages], dtype=np.int32)
    numbers = np.arange(len(history), dtype=np.int64)
    order = np.lexsort(
        (
            np.repeat(numbers, BANDS),
            np.repeat(village_ranks, BANDS),
            keys.ravel(),
        )
    )
    flat_keys = keys.ravel()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-200000")
        connection.execute("BEGIN")
        connection.executemany(
            str(matters.insert().compile(dialect=dialect)),
            (
                (ids[n], history[n].village, history[n].category.value, stored[n], ats[n])
                for n in range(len(history))
            ),
        )
        band_insert = str(matter_bands.insert().compile(dialect=dialect))
        page = 1_000_000
        for first in range(0, len(order), page):
            part = order[first : first + page]
            connection.executemany(
                band_insert,
                (
                    (key, villages[n], ats[n], ids[n])
                    for key, n in zip(
                        flat_keys[part].tolist(), (part // BANDS).tolist(), strict=True
                    )
                ),
            )
        connection.execute("COMMIT")
        # As intake leaves it: the detector's connections read and write in WAL mode.
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


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
    sharing: list[int]
    candidates: list[int]
    costs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    scans: list[float] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)


def prepare(size: int, scratch: Path) -> Side:
    reports = corpus(seed=size, villages=VILLAGES)
    history = list(itertools.islice(reports, size))
    probes = list(itertools.islice(reports, PROBES))
    path = scratch / f"history-{size}.db"
    started = time.perf_counter()
    seed(path, history)
    seeding = time.perf_counter() - started
    events = [reported(r, NOW + timedelta(seconds=i)) for i, r in enumerate(probes)]
    db = Database(f"sqlite+aiosqlite:///{path}")
    links = _Links()
    runtime = SimpleNamespace(database=db, store=lambda _stream: links)
    sharing, confirmed = candidates(db, events)
    return Side(
        size=size,
        db=db,
        # A running intake holds other connections to its database; without one, SQLite
        # checkpoints the WAL (an fsync) each time the detector's connection closes.
        keeper=sqlite3.connect(path),
        detector=DuplicateDetector(runtime, THRESHOLD),  # type: ignore[arg-type]
        links=links,
        probes=events,
        seeding=seeding,
        sharing=sharing,
        candidates=confirmed,
    )


def candidates(db: Database, events: list[LeadReported]) -> tuple[list[int], list[int]]:
    """For each new report, asked before any of them is recorded: how many earlier reports
    in its scope share a band with it (counted by the index, from at most its bound of band
    rows) and how many of those it confirms exactly (the ones sharing the most)."""
    sharing, confirmed = [], []
    with db.sync_engine.connect() as conn:
        for e in events:
            category = e.category.value
            keys = band_keys(category, shingles(f"{e.summary} {e.details}"))
            shared = sharing_reports(keys, e.village, e.occurred_at, e.lead_id)
            sharing.append(len(conn.execute(*shared).all()))
            near = near_reports(keys, category, e.village, e.occurred_at, e.lead_id)
            confirmed.append(len(conn.execute(*near).all()))
    return sharing, confirmed


async def run_turn(side: Side, turn: slice) -> None:
    """Some of the side's new reports: first the exact scan's answer (it only reads, so it
    sees the history the detector will), then the detector itself."""
    for probe in side.probes[turn]:
        began = time.perf_counter()
        best_id, best = await scan_best(side.db, probe)
        side.scans.append(time.perf_counter() - began)
        if best_id is not None and best >= THRESHOLD:
            side.expected[probe.lead_id] = best_id
        began, cpu = time.perf_counter(), time.process_time()
        await side.detector(probe)
        side.costs.append(time.perf_counter() - began)
        # The process's CPU, the detector's connection thread included.
        side.cpu.append(time.process_time() - cpu)


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


async def measure(sides: list[Side]) -> None:
    # In turns, so both sizes meet the same load on a shared machine.
    step = max(1, PROBES // ROUNDS)
    for start in range(0, PROBES, step):
        for side in sides:
            await run_turn(side, slice(start, start + step))
    for side in sides:
        await side.db.dispose()
        side.keeper.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # Seeded before the event loop starts: the seeding forks worker processes.
        sides = [prepare(SMALL, Path(scratch)), prepare(LARGE, Path(scratch))]
        asyncio.run(measure(sides))
    for side in sides:
        found = sum(side.links.named.get(k) == v for k, v in side.expected.items())
        print(
            f"duplicate detection with {side.size:,} earlier reports: "
            f"{statistics.median(side.costs) * 1000:.2f} ms per report "
            f"(p90 {statistics.quantiles(side.costs, n=10)[8] * 1000:.2f} ms; CPU "
            f"{statistics.mean(side.cpu) * 1000:.2f} ms); earlier reports sharing a band: "
            f"median {statistics.median(side.sharing):.0f}, mean "
            f"{statistics.mean(side.sharing):.1f}, max {max(side.sharing)}; confirmed per "
            f"report (at most {MAX_CONFIRMED}): median {statistics.median(side.candidates):.0f}, "
            f"mean {statistics.mean(side.candidates):.1f}; exact scan "
            f"(before): {statistics.median(side.scans) * 1000:.2f} ms; links found "
            f"{found}/{len(side.expected)} of the scan's (seeded in {side.seeding:.0f} s)",
            flush=True,
        )
    small, large = (statistics.median(side.costs) for side in sides)
    small_cpu, large_cpu = (statistics.mean(side.cpu) for side in sides)
    small_scan, large_scan = (statistics.median(side.scans) for side in sides)
    print(
        f"duplicate detection, {LARGE:,} against {SMALL:,} earlier reports: "
        f"{large / small:.2f}x the time per report, {large_cpu / small_cpu:.2f}x the CPU "
        f"(target: independent of history size, <= {TARGET_RATIO}x; the exact scan: "
        f"{large_scan / small_scan:.0f}x)",
        flush=True,
    )
    found, alike, near_found, near = recall(RECALL_REPORTS, RECALL_VILLAGES)
    print(
        f"duplicate index recall against the exact comparison, {RECALL_REPORTS:,} reports: "
        f"{found}/{alike} pairs at >= {THRESHOLD} share a band ({found / alike:.2%}); "
        f"{near_found}/{near} of those in [{THRESHOLD}, 0.7)"
    )


if __name__ == "__main__":
    main()
