"""Errors that mean "the rules say no", shared by every service's domain code."""

from __future__ import annotations


class RuleViolation(Exception):
    """A command breaks a rule of the lead's state. Answered as 422 with one plain
    sentence, in Chinese for the clerk and in English."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


class NotPermitted(Exception):
    """The principal may not act on this lead (answered as 403, saying why)."""


class NotFound(Exception):
    """No such lead (or none the principal may see): answered as 404."""
