"""Oversight: the discipline committee's supervision, accountability and access audit."""
