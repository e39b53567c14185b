"""The old name of :mod:`oversight.application`, kept only until no test imports it."""

from oversight.application import Oversight

__all__ = ["Oversight"]
