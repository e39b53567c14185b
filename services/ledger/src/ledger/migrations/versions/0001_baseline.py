"""Baseline: the ledger keeps no table a replay cannot rebuild, so this revision makes
nothing; it marks where later revisions of such tables start.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES: tuple[str, ...] = ()


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
