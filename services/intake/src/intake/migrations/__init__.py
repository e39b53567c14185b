"""Intake's Alembic environment: the tables no replay can rebuild (run by
common.migrations.upgrade at start, or ``python -m intake migrate``)."""
