"""Full-text search over what was reported and added (``ledger_search``): any substring of
three characters or more, Chinese included, since Chinese has no spaces to split words at.

SQLite: an FTS5 index with the trigram tokenizer (SQLite 3.34 or later) over the table,
kept in step by triggers, so the projection writes only the table. PostgreSQL: a pg_trgm
GIN index, used by ILIKE. Both are made when the service prepares its database; a read
model rebuilt by ``leadctl replay`` gets its index when the service first starts on it.

A user's words are always searched as one literal piece of text: FTS5's query syntax and
LIKE's wildcards are escaped, never interpreted."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Final

import structlog
from sqlalchemy import ColumnElement, Engine, column, literal, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError

from ledger.projection.tables import leads, search_texts

log = structlog.get_logger(__name__)

#: The shortest text a trigram index finds.
SHORTEST: Final = 3
FTS: Final = "ledger_search_fts"
_FTS_TABLE = table(FTS, column("rowid"))
_SQLITE_INDEX: Final = (
    "CREATE VIRTUAL TABLE ledger_search_fts USING fts5("
    "body, content='ledger_search', content_rowid='doc', tokenize='trigram')"
)
# The external-content pattern of the FTS5 documentation: the index follows the table.
_SQLITE_TRIGGERS: Final = (
    """CREATE TRIGGER IF NOT EXISTS ledger_search_ai AFTER INSERT ON ledger_search BEGIN
        INSERT INTO ledger_search_fts(rowid, body) VALUES (new.doc, new.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_search_ad AFTER DELETE ON ledger_search BEGIN
        INSERT INTO ledger_search_fts(ledger_search_fts, rowid, body)
        VALUES ('delete', old.doc, old.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_search_au AFTER UPDATE ON ledger_search BEGIN
        INSERT INTO ledger_search_fts(ledger_search_fts, rowid, body)
        VALUES ('delete', old.doc, old.body);
        INSERT INTO ledger_search_fts(rowid, body) VALUES (new.doc, new.body);
    END""",
)
_SQLITE_REBUILD: Final = "INSERT INTO ledger_search_fts(ledger_search_fts) VALUES ('rebuild')"
_TRIGRAM_SINCE: Final = (3, 34, 0)


def doc_number(lead_id: str) -> int:
    """The lead's row number in the SQLite index: 63 bits of a hash of its id."""
    return int.from_bytes(hashlib.sha256(lead_id.encode()).digest()[:8], "big") >> 1


def create_index(engine: Engine) -> None:
    """Make the search index of ``ledger_search`` (which must exist), if it is missing."""
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
                (FTS, "ledger_search_ai", "ledger_search_ad", "ledger_search_au"),
            ).scalar_one()
            if made < 4:
                conn.exec_driver_sql("DROP TABLE IF EXISTS ledger_search_fts")
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
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('ledger_search'))"))
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except DBAPIError as exc:
            # Searching still works, reading every row: slower, never wrong.
            log.warning("search_without_trigram_index", error=str(exc.orig))
            return
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_ledger_search_trigrams"
                " ON ledger_search USING gin (body gin_trgm_ops)"
            )
        )


def _like_pattern(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(words: str) -> str:
    return '"' + words.replace('"', '""') + '"'


def matching(dialect: str, words: str) -> ColumnElement[bool]:
    """Leads whose search text contains ``words``, as they are written (letters in any
    case)."""
    if dialect == "sqlite":
        hits = (
            select(_FTS_TABLE.c.rowid)
            .select_from(_FTS_TABLE)
            .where(literal_column(FTS).op("MATCH")(literal(_fts_phrase(words))))
        )
        found = select(search_texts.c.lead_id).where(search_texts.c.doc.in_(hits))
    else:
        found = select(search_texts.c.lead_id).where(
            search_texts.c.body.ilike(_like_pattern(words), escape="\\")
        )
    return leads.c.lead_id.in_(found)
