"""Full-text search over what was reported and added (``ledger_search``): any substring of
three characters or more, Chinese included, since Chinese has no spaces to split words at.

SQLite: an FTS5 index with the trigram tokenizer (SQLite 3.34 or later) over the table,
kept in step by triggers, so the projection writes only the table. PostgreSQL: a pg_trgm
GIN index, used by ILIKE. Both are made when the service prepares its database; a read
model rebuilt by ``leadctl replay`` gets its index when the service first starts on it.

A user's words are always searched as one literal piece of text: FTS5's query syntax and
LIKE's wildcards are escaped, never interpreted."""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from sqlalchemy import (
    ColumnElement,
    Engine,
    FromClause,
    Select,
    String,
    bindparam,
    column,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError

from ledger.projection.tables import leads, search_texts

log = structlog.get_logger(__name__)

#: The shortest text a trigram index finds.
SHORTEST: Final = 3
# The index's objects are named after the table it follows, so that the next version of
# the read model gets its own beside this one's.
FTS: Final = f"{search_texts.name}_fts"
_TRIGGERS: Final = tuple(f"{search_texts.name}_{kind}" for kind in ("ai", "ad", "au"))
_TRIGRAMS: Final = f"ix_{search_texts.name}_trigrams"
_SQLITE_INDEX: Final = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5("
    f"body, content='{search_texts.name}', content_rowid='doc', tokenize='trigram')"
)
# The external-content pattern of the FTS5 documentation: the index follows the table. A
# text whose lead is not filed yet has no number, and is indexed once it gets one.
_SQLITE_TRIGGERS: Final = (
    f"""CREATE TRIGGER IF NOT EXISTS {_TRIGGERS[0]} AFTER INSERT ON {search_texts.name}
        WHEN new.doc IS NOT NULL BEGIN
        INSERT INTO {FTS}(rowid, body) VALUES (new.doc, new.body);
    END""",  # noqa: S608 - names of our own tables, no input
    f"""CREATE TRIGGER IF NOT EXISTS {_TRIGGERS[1]} AFTER DELETE ON {search_texts.name}
        WHEN old.doc IS NOT NULL BEGIN
        INSERT INTO {FTS}({FTS}, rowid, body) VALUES ('delete', old.doc, old.body);
    END""",  # noqa: S608 - names of our own tables, no input
    f"""CREATE TRIGGER IF NOT EXISTS {_TRIGGERS[2]} AFTER UPDATE ON {search_texts.name} BEGIN
        INSERT INTO {FTS}({FTS}, rowid, body)
        SELECT 'delete', old.doc, old.body WHERE old.doc IS NOT NULL;
        INSERT INTO {FTS}(rowid, body) SELECT new.doc, new.body WHERE new.doc IS NOT NULL;
    END""",
)
_SQLITE_REBUILD: Final = f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')"  # noqa: S608
_TRIGRAM_SINCE: Final = (3, 34, 0)
# A lead's number below its millisecond of filing: 20 bits of its number in the year.
_NUMBER_BITS: Final = 20
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def doc_number(registered_at: datetime, ledger_number: str) -> int:
    """The lead's row number in the search index: its place in the list's order (filed
    later, a greater number; within a millisecond, by its ledger number), so that a search
    walks its matches newest first. Below 2**63 until the year 2248."""
    moment = registered_at if registered_at.tzinfo else registered_at.replace(tzinfo=UTC)
    millisecond = (moment - _EPOCH) // _MILLISECOND
    tail = ledger_number.rsplit("-", 1)[-1]
    n = int(tail) if tail.isdigit() else 0
    return (millisecond << _NUMBER_BITS) | (n & ((1 << _NUMBER_BITS) - 1))


_MILLISECOND: Final = datetime.resolution * 1000


def create_index(engine: Engine) -> None:
    """Make the search index of the search table (which must exist), if it is missing."""
    if engine.dialect.name == "sqlite":
        _sqlite_index(engine)
    else:
        _postgresql_index(engine)


def _sqlite_index(engine: Engine) -> None:
    if sqlite3.sqlite_version_info < _TRIGRAM_SINCE:
        raise RuntimeError(
            f"the ledger's search needs SQLite 3.34 or later (trigram tokenizer); this Python "
            f"has SQLite {sqlite3.sqlite_version}"
        )
    # One transaction of our own (SQLite's DDL is transactional; the driver would commit
    # each statement): the index and its triggers come, and are filled, together or not.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            made = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name IN (?, ?, ?, ?)",
                (FTS, *_TRIGGERS),
            ).scalar_one()
            if made < 4:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS}")
                conn.exec_driver_sql(_SQLITE_INDEX)
                for trigger in _SQLITE_TRIGGERS:
                    conn.exec_driver_sql(trigger)
                # What the table held before (a rebuilt read model) is indexed too.
                conn.exec_driver_sql(_SQLITE_REBUILD)
                log.info("search_index_created", engine="sqlite-fts5-trigram")
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise


def _postgresql_index(engine: Engine) -> None:
    with engine.begin() as conn:
        # Two replicas starting at once: CREATE ... IF NOT EXISTS is not safe against itself.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": _TRIGRAMS})
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except DBAPIError as exc:
            # Searching still works, reading every row: slower, never wrong.
            log.warning("search_without_trigram_index", error=str(exc.orig))
            return
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {_TRIGRAMS}"
                f" ON {search_texts.name} USING gin (body gin_trgm_ops)"
            )
        )


def _like_pattern(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(words: str) -> str:
    return '"' + words.replace('"', '""') + '"'


def matching(dialect: str, words: str) -> ColumnElement[bool]:
    """Leads whose search text contains ``words``, as they are written (letters in any
    case): a condition on the leads table, for reads that take every match (the export)."""
    if dialect == "sqlite":
        fts = table(FTS, column("rowid"))
        hits = select(fts.c.rowid).where(_fts_match(words))
        found = select(search_texts.c.lead_id).where(search_texts.c.doc.in_(hits))
    else:
        found = select(search_texts.c.lead_id).where(_ilike(words))
    return leads.c.lead_id.in_(found)


@dataclass(frozen=True)
class Searched:
    """A search as a page reads it: the leads joined to their matches, the condition, and
    the matches' order (the list's, newest first), which the index serves: SQLite's reads
    its matches by number from the newest down and stops at the page; PostgreSQL walks the
    numbers' index down and tests each text, or takes the trigram index's few matches and
    sorts them, as it reckons cheaper."""

    joined: FromClause
    where: ColumnElement[bool]
    newest_first: tuple[ColumnElement[Any], ...]
    #: the numbered texts that match, in no order: each is a filed lead
    matches: Select[Any]


def searched(dialect: str, words: str) -> Searched:
    return _searched(dialect, _folds_case(dialect, words), literal(_bound_text(dialect, words)))


#: The parameter a search statement made by :func:`searched_by` takes its words in.
WORDS: Final = "search_words"


def search_parameters(dialect: str, words: str) -> tuple[bool, dict[str, str]]:
    """Which statement of :func:`searched_by` a search for ``words`` runs (whether it folds
    letters' case), and its parameters."""
    return _folds_case(dialect, words), {WORDS: _bound_text(dialect, words)}


@functools.cache
def searched_by(dialect: str, folds_case: bool) -> Searched:
    """:func:`searched` with the words bound when the statement runs (the parameters of
    :func:`search_parameters`): made once, for reads that keep their statements."""
    return _searched(dialect, folds_case, bindparam(WORDS, type_=String))


def _searched(dialect: str, folds_case: bool, text: ColumnElement[str]) -> Searched:
    if dialect == "sqlite":
        fts = table(FTS, column("rowid"))
        joined = fts.join(search_texts, search_texts.c.doc == fts.c.rowid).join(
            leads, leads.c.lead_id == search_texts.c.lead_id
        )
        matches = select(fts.c.rowid).where(_fts_match(text))
        return Searched(joined, _fts_match(text), (fts.c.rowid.desc(),), matches)
    joined = search_texts.join(leads, leads.c.lead_id == search_texts.c.lead_id)
    found = _ilike(text, folds_case) & search_texts.c.doc.is_not(None)
    matches = select(search_texts.c.doc).where(found)
    return Searched(joined, found, (search_texts.c.doc.desc(),), matches)


def _bound_text(dialect: str, words: str) -> str:
    """What the words are given to the database as: an FTS5 phrase, or a LIKE pattern."""
    return _fts_phrase(words) if dialect == "sqlite" else _like_pattern(words)


def _folds_case(dialect: str, words: str) -> bool:
    # No letter that has a case (Chinese, digits): LIKE finds the same texts as ILIKE,
    # without folding the case of every text it tests (a few times cheaper).
    return dialect != "sqlite" and not (words.lower() == words == words.upper())


def _fts_match(text: str | ColumnElement[str]) -> ColumnElement[bool]:
    phrase = literal(_fts_phrase(text)) if isinstance(text, str) else text
    return literal_column(FTS).op("MATCH")(phrase)


def _ilike(text: str | ColumnElement[str], folds_case: bool | None = None) -> ColumnElement[bool]:
    if isinstance(text, str):
        folds_case = _folds_case("postgresql", text)
        text = literal(_like_pattern(text))
    if folds_case:
        return search_texts.c.body.ilike(text, escape="\\")
    return search_texts.c.body.like(text, escape="\\")
