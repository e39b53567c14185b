"""A report not filed yet that names no village belongs to no town in oversight: the
county's readers see it, no town's reader does, until the ledger files it under a town's
number (oversight.projection.scope says why)."""

from __future__ import annotations

from sqlalchemy import create_engine, insert, select, update

from common.auth import Principal
from common.events import Role
from common.organisation import demo_county_file, load_organisation
from oversight.application.towns import towns_seen
from oversight.projection.scope import Towns, leads_in
from oversight.projection.tables import leads, metadata

COUNTY = load_organisation(demo_county_file())


def reader(unit: str) -> Principal:
    return Principal(user="reader", display_name="某人", role=Role.DISCIPLINE, unit=unit)


def test_a_village_less_report_is_the_county_s_alone_until_filed() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    county = towns_seen(COUNTY, reader("county"))
    shd = towns_seen(COUNTY, reader("shd-discipline"))
    zxl = towns_seen(COUNTY, reader("zxl-discipline"))
    with engine.begin() as conn:
        conn.execute(insert(leads), [{"lead_id": "web", "ledger_number": None, "village": None}])

        def seen_by(towns: Towns) -> bool:
            query = select(leads.c.lead_id).where(leads_in(towns))
            return "web" in set(conn.scalars(query))

        assert seen_by(county)
        assert not seen_by(shd)
        assert not seen_by(zxl)
        # Filed by the ledger under ZXL's number: ZXL's committee sees it, SHD's still not.
        conn.execute(
            update(leads).where(leads.c.lead_id == "web").values(ledger_number="ZXL-2026-000001")
        )
        assert seen_by(county)
        assert seen_by(zxl)
        assert not seen_by(shd)
