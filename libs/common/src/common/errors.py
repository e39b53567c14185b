"""Errors that mean "the rules say no", shared by every service's domain and application
code. They know nothing of HTTP: `common.http_errors` turns each kind into its status, and
the importer and background jobs read them as they are."""

from __future__ import annotations


class DomainError(Exception):
    """A command refused by the rules (the request may not be retried as it is)."""


class RuleViolation(DomainError):
    """A command breaks a rule of the lead's state, or an input the service alone can check
    (a unit that is not in the organisation). Answered as 422 with one plain sentence, in
    Chinese for the clerk and in English; ``field`` names the input at fault, if one is."""

    def __init__(self, message: str, message_zh: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.field = field


class Settled(RuleViolation):
    """The thing is final (an issued notice): no change of it is possible any more, not
    later and not by anyone. Answered as 409 with the sentence."""


class NotPermitted(DomainError):
    """The principal may not act on this lead (answered as 403, saying why)."""


class NotFound(DomainError):
    """No such lead (or none the principal may see): answered as 404."""


class Gone(DomainError):
    """What was asked for existed and was destroyed for good (answered as 410)."""
