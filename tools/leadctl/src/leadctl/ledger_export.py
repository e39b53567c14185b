"""The ledger export from any ledger database: a live one, or one rebuilt by
``leadctl replay ledger --until`` to show the ledger as it stood then."""

from __future__ import annotations

import asyncio
from pathlib import Path

from common.auth import Principal
from common.database import Database
from common.events import Role, utc_now
from common.organisation import load_organisation
from common.vocabulary import Language
from ledger.export import to_csv, to_xlsx
from ledger.projection.queries import Filters, all_rows

AUDITOR = Principal(user="leadctl", display_name="leadctl", role=Role.AUDITOR, unit=None)


def export(db: str, xlsx: Path | None, csv: Path | None, lang: Language) -> int:
    async def rows() -> list[dict[str, object]]:
        database = Database(db)
        try:
            async with database.async_engine.connect() as conn:
                return await all_rows(conn, AUDITOR, Filters(), utc_now())
        finally:
            await database.dispose()

    found = asyncio.run(rows())
    org = load_organisation()
    if xlsx is not None:
        xlsx.write_bytes(to_xlsx(found, org, lang, f"{org.town.name}扫黑除恶线索台账"))
    if csv is not None:
        csv.write_bytes(to_csv(found, org, lang))
    return len(found)
