"""Shared contracts and plumbing of the lead-handling suite."""
