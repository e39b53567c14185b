"""Alembic's entry point for the ledger's own tables (see common.migrations)."""

from alembic import context

from common.migrations import run_environment

# No table of the ledger is outside its read models yet.
run_environment(context, [])
