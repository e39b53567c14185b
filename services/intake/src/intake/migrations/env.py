"""Alembic's entry point for intake's own tables (see common.migrations)."""

from alembic import context

from common.migrations import run_environment
from intake.duplicates import matter_metadata
from intake.idempotency import idempotency_metadata
from intake.vault import vault_metadata
from intake.work import work_metadata

run_environment(context, [vault_metadata, idempotency_metadata, matter_metadata, work_metadata])
