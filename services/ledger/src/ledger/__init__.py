"""Ledger: registration, transfer, responsibility and feedback of every lead."""
