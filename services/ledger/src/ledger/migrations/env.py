"""Alembic's entry point for the ledger's own tables (see common.migrations)."""

from alembic import context

from common.migrations import run_environment
from ledger.file_keys import file_keys_metadata

# The staff files' keys are the ledger's one table outside its read models.
run_environment(context, [file_keys_metadata])
