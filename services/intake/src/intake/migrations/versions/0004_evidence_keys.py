"""Each lead's evidence data key, wrapped by the intake key, in a table of its own beside
the identity keys: the files a reporter sends are read and destroyed apart from who they
are. No replay can bring these keys back.

Revision ID: 0004_evidence_keys
Revises: 0003_matter_bands_64
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_evidence_keys"
down_revision: str | None = "0003_matter_bands_64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evidence_keys",
        sa.Column("lead_id", sa.String(64), primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("destroyed_at", _MOMENT, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("evidence_keys")
