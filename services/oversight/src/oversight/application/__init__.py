"""Oversight's application layer: one handler per command (decisions), the cases that open
by themselves (cases), supervision and the notice that goes with it, by hand or by the
automatic rules (supervision), and the committee's reads (reads), in a module per concern;
:class:`Oversight` is the context they share and the entry point routes, reactors and
background jobs call."""

from oversight.application.cases import UnknownLead
from oversight.application.context import Oversight
from oversight.application.supervision import RULES

__all__ = ["RULES", "Oversight", "UnknownLead"]
