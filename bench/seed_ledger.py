"""A ledger read model of many leads, filled straight through its tables: the ledger of a
county over years, for the read figures at scale (bench.bench_reads).

Replaying a million leads through the streams would take most of an hour here; the reads
only look at the read model, so its tables are filled directly in large batches (SQLite or
PostgreSQL, whichever the URL names): the leads, the units each was handed to, and the text
a search looks through (SQLite's trigram index follows that table by its triggers;
PostgreSQL's GIN index is kept as rows go in). The projection positions are left as the
service's own projector keeps them: the seeded leads have no events in the streams, so a
seeded lead reads back with an empty history, and the projector goes on applying what the
streams hold.

The leads look like a township's: 17 villages, the categories and channels in use, most of
them concluded or archived, some handed to the police or the judicial office, filed over
the seven years before the current one (numbered ``SHD-<year>-<n>`` in those years, so the
live registrar, numbering in the current year, never meets one of their numbers).

    python -m bench.seed_ledger sqlite:///path/ledger.db 1000000
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.database import sync_engine
from common.vocabulary import Category, Channel, LeadStatus
from ledger.projection.counting import Place, places
from ledger.projection.search import doc_number
from ledger.projection.tables import counts, lead_units, leads, search_texts

BATCH: Final = 20_000
VILLAGES: Final = tuple(f"shd-v{n:02d}" for n in range(1, 18))
HANDED: Final = ("shd-police", "shd-judicial")
PLACES: Final = ("村口", "集市", "废弃厂房", "砖厂", "渡口", "村委会", "合作社", "小卖部", "祠堂")
DEEDS: Final = (
    "聚众赌博",
    "放高利贷",
    "强占集体土地",
    "威胁村民",
    "暴力拆迁",
    "垄断砂石",
    "欺行霸市",
    "插手工程",
    "收保护费",
    "操纵选举",
)
SOME: Final = ("夜间", "多次", "长期", "近来", "据称", "有人反映")
# Of a county's leads over years, most are closed: concluded, answered, archived.
STATUSES: Final = (
    [LeadStatus.ARCHIVED] * 55
    + [LeadStatus.ANSWERED] * 12
    + [LeadStatus.CONCLUDED] * 10
    + [LeadStatus.VERIFYING] * 6
    + [LeadStatus.ASSIGNED] * 6
    + [LeadStatus.ACCEPTED] * 3
    + [LeadStatus.TRANSFERRED] * 3
    + [LeadStatus.REGISTERED] * 4
    + [LeadStatus.REOPENED]
)


def _summary(rng: random.Random, village: str) -> str:
    return (
        f"{village[-3:]}村{rng.choice(PLACES)}{rng.choice(SOME)}{rng.choice(DEEDS)}，"
        f"{rng.choice(SOME)}{rng.choice(DEEDS)}，群众反映强烈"
    )


def _rows(count: int, rng: random.Random, now: datetime) -> Iterator[dict[str, Any]]:
    first = datetime(now.year - 7, 1, 1, tzinfo=UTC)
    span = (datetime(now.year, 1, 1, tzinfo=UTC) - first).total_seconds()
    numbers: dict[int, int] = {}
    moments = sorted(first + timedelta(seconds=rng.random() * span) for _ in range(count))
    for registered_at in moments:
        year = registered_at.astimezone(UTC).year
        numbers[year] = numbers.get(year, 0) + 1
        village = rng.choice(VILLAGES)
        status = rng.choice(STATUSES)
        closed = status in (LeadStatus.ARCHIVED, LeadStatus.ANSWERED, LeadStatus.CONCLUDED)
        handed = rng.random() < 0.3
        unit = rng.choice(HANDED) if handed else "shd-office"
        deadline = registered_at + timedelta(days=rng.choice((15, 30, 60)))
        concluded = deadline - timedelta(days=rng.randint(-10, 14)) if closed else None
        yield {
            "lead_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "ledger_number": f"SHD-{year}-{numbers[year]:06d}",
            "registered_at": registered_at,
            "reported_at": registered_at - timedelta(minutes=rng.randint(1, 600)),
            "channel": rng.choice(list(Channel)).value,
            "category": rng.choice(list(Category)).value,
            "village": village,
            "summary": _summary(rng, village),
            "flags": "",
            "for_committee": rng.random() < 0.05,
            "status": status.value,
            "unit": unit,
            "units": ",".join(dict.fromkeys(("shd-office", unit))),
            "assignee": None
            if status is LeadStatus.REGISTERED
            else f"officer.{rng.randint(1, 40)}",
            "assignee_name": None,
            "deadline": None if status is LeadStatus.REGISTERED else deadline,
            # As the deadline job leaves them: an open lead past its deadline is marked (or
            # the job would look up every one of them in the stream, every minute).
            "deadline_missed": status is not LeadStatus.REGISTERED
            and (concluded > deadline if concluded else deadline < now),
            "verification_count": rng.randint(0, 3),
            "conclusion": "substantiated" if closed else None,
            "concluded_at": concluded,
            "feedback": "已核查处理"
            if status in (LeadStatus.ARCHIVED, LeadStatus.ANSWERED)
            else None,
            "feedback_at": concluded,
            "archived_at": concluded if status is LeadStatus.ARCHIVED else None,
            "reopened_count": 1 if status is LeadStatus.REOPENED else 0,
            "updated_at": concluded or registered_at,
        }


def seed(url: str, count: int, *, seed: int = 15) -> float:
    """Add ``count`` leads to the ledger read model at ``url`` (its tables exist: the
    ledger made them); returns the seconds it took."""
    engine = sync_engine(url)
    started = time.monotonic()
    try:
        _fill(engine, count, random.Random(seed))
    finally:
        engine.dispose()
    return time.monotonic() - started


def _fill(engine: Engine, count: int, rng: random.Random) -> None:
    batch: list[dict[str, Any]] = []
    counted: Counter[Place] = Counter()

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(leads), batch)
            units = [
                {"lead_id": r["lead_id"], "unit": unit}
                for r in batch
                for unit in r["units"].split(",")
            ]
            conn.execute(insert(lead_units), units)
            texts = [
                {
                    "lead_id": r["lead_id"],
                    "doc": doc_number(r["registered_at"], r["ledger_number"]),
                    "body": r["summary"],
                }
                for r in batch
            ]
            conn.execute(insert(search_texts), texts)
        for r in batch:
            counted.update(places(r))
        batch.clear()

    for row in _rows(count, rng, datetime.now(UTC)):
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    with engine.begin() as conn:
        _add_counts(conn, counted)
        if conn.dialect.name == "postgresql":
            # What autovacuum would do a while later: the planner's statistics of the new
            # rows (which way a search walks depends on how many texts match).
            for table in (leads, lead_units, search_texts, counts):
                conn.exec_driver_sql(f"ANALYZE {table.name}")


def _add_counts(conn: Connection, counted: Counter[Place]) -> None:
    """The seeded leads added to the counts the statistics read (tables.counts), as the
    projector would have counted them. The live projector keeps the counts it wrote in
    its row cache: seed a ledger that is not being written to (as the benchmarks do)."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(counts)
    statement = statement.on_conflict_do_update(
        index_elements=[counts.c.scope, counts.c.dimension, counts.c.value],
        set_={"leads": counts.c.leads + statement.excluded.leads},
    )
    rows = [
        {"scope": scope, "dimension": dimension, "value": value, "leads": n}
        for (scope, dimension, value), n in counted.items()
    ]
    if rows:
        conn.execute(statement, rows)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python -m bench.seed_ledger DATABASE_URL COUNT")
    url, count = sys.argv[1], int(sys.argv[2].replace("_", ""))
    took = seed(url, count)
    print(f"{count} leads seeded in {took:.0f} s ({count / took:.0f}/s)")


if __name__ == "__main__":
    main()
