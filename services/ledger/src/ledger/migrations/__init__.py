"""The ledger's Alembic environment, for tables no replay can rebuild (run by
common.migrations.upgrade at start, or ``python -m ledger migrate``). It has none yet: every
table of the ledger is a read model, rebuilt rather than altered (common.readmodels)."""
