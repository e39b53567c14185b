"""leadctl's integration tests are one story a file (test_leadctl_*.py): its helpers are in
tests/support/leadctl.py, the ``log`` fixture in this folder's conftest. This module only
re-exports them for test_leadctl_ops.py, which imports them from here; it holds no tests."""

from tests.integration.conftest import log
from tests.support.leadctl import (
    fill,
    keygen,
    leadctl,
    leadctl_beside,
    on,
    printed,
    problems,
    succeeded,
)

__all__ = [
    "fill",
    "keygen",
    "leadctl",
    "leadctl_beside",
    "log",
    "on",
    "printed",
    "problems",
    "succeeded",
]
