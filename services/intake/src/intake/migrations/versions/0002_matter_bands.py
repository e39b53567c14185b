"""The duplicate detector's index: each report's MinHash bands with its village and moment,
so a new report is compared only with earlier ones sharing a band. Fills the bands of the
reports already recorded, a page at a time.

Revision ID: 0002_matter_bands
Revises: 0001_baseline
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.duplicates import band_rows, matter_bands, matters

revision: str = "0002_matter_bands"
down_revision: str | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000


def upgrade() -> None:
    op.create_table(
        "intake_matter_bands",
        sa.Column("band_key", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("village", sa.String(40), primary_key=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("lead_id", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
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
                # This revision's index had 40 bands (0003 recomputes them in 64).
                40,
            )
        ]
        if rows:
            bind.execute(sa.insert(matter_bands), rows)
        after = page[-1].lead_id


def downgrade() -> None:
    op.drop_table("intake_matter_bands")
