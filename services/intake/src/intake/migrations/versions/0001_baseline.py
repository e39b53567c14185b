"""Baseline: intake's own tables as the release before migrations made them with
create_all. Only what is missing is made, so a database of that release (or of an older
one, with fewer tables) becomes this revision without losing a row.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What common.migrations looks for to recognise a database made before migrations.
TABLES = ("identity_keys", "idempotency_claims", "intake_matters", "intake_spent_work")

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "identity_keys" not in existing:
        # The identity keys: no replay can bring them back (the stream holds only their
        # encrypted identities).
        op.create_table(
            "identity_keys",
            sa.Column("lead_id", sa.String(64), primary_key=True),
            sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
            sa.Column("created_at", _MOMENT, nullable=False),
            sa.Column("shredded_at", _MOMENT, nullable=True),
        )
    if "idempotency_claims" not in existing:
        op.create_table(
            "idempotency_claims",
            sa.Column("key_hash", sa.String(64), primary_key=True),
            sa.Column("lead_id", sa.String(64), nullable=False),
            sa.Column("state", sa.String(10), nullable=False),
            sa.Column("answer", sa.LargeBinary, nullable=False),
            sa.Column("created_at", _MOMENT, nullable=False),
        )
    if "intake_matters" not in existing:
        op.create_table(
            "intake_matters",
            sa.Column("lead_id", sa.String(64), primary_key=True),
            sa.Column("village", sa.String(40)),
            sa.Column("category", sa.String(40), nullable=False),
            sa.Column("shingles", sa.Text, nullable=False),
            sa.Column("reported_at", _MOMENT, nullable=False),
        )
        op.create_index("ix_intake_matters_category", "intake_matters", ["category"])
    if "intake_spent_work" not in existing:
        op.create_table(
            "intake_spent_work",
            sa.Column("spend_id", sa.String(32), primary_key=True),
            sa.Column("expires_at", _MOMENT, nullable=False),
        )
        op.create_index("ix_intake_spent_work_expires_at", "intake_spent_work", ["expires_at"])


def downgrade() -> None:
    # Dropping the key store would destroy every reporter's identity for good: a
    # downgrade stops at the baseline.
    raise RuntimeError("intake's baseline holds the identity keys and is never dropped")
