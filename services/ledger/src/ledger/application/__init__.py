"""The ledger's application layer: each command in one place, where the lead is loaded from
its own events, the rules decide, and the decision is appended with the lead's last
sequence; the reads the API answers and what is recorded about reading; the deadline round.
:class:`Ledger` is the context they share and the entry point routes, reactors and jobs
call."""

from ledger.application.context import Ledger
from ledger.application.handling import HANDLING_ROLES, Recorded
from ledger.application.reading import NO_SUCH_LEAD, LeadInFull

__all__ = ["HANDLING_ROLES", "NO_SUCH_LEAD", "LeadInFull", "Ledger", "Recorded"]
