"""The duplicate index in 64 bands of 4 rows instead of 40: the detector ranks the reports
sharing a band by how many they share and confirms only the first, which needs more bands
to tell a retelling from a chance match. Every report's band rows are computed again from
its stored shingles, a page at a time (about 0.2 ms of CPU a report; the downgrade writes
the 40 bands back the same way).

Revision ID: 0003_matter_bands_64
Revises: 0002_matter_bands
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.duplicates import band_rows, matter_bands, matters

revision: str = "0003_matter_bands_64"
down_revision: str | None = "0002_matter_bands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000


def _rebuild(bands: int) -> None:
    bind = op.get_bind()
    bind.execute(sa.delete(matter_bands))
    after = ""
    while True:
        page = bind.execute(
            sa.select(
                matters.c.lead_id,
                matters.c.village,
                matters.c.category,
                matters.c.shingles,
                matters.c.reported_at,
            )
            .where(matters.c.lead_id > after)
            .order_by(matters.c.lead_id)
            .limit(_PAGE)
        ).all()
        if not page:
            return
        rows = [
            band
            for matter in page
            for band in band_rows(
                matter.lead_id,
                matter.village,
                matter.category,
                frozenset(matter.shingles.split(" ")) - {""},
                matter.reported_at,
                bands,
            )
        ]
        if rows:
            bind.execute(sa.insert(matter_bands), rows)
        after = page[-1].lead_id


def upgrade() -> None:
    _rebuild(64)


def downgrade() -> None:
    _rebuild(40)
