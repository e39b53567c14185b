"""Oversight's read model. ``SUBSCRIPTIONS`` is what feeds it, live and in ``leadctl replay``."""

from oversight.projection.projector import PROJECTION, SUBSCRIPTIONS

__all__ = ["PROJECTION", "SUBSCRIPTIONS"]
