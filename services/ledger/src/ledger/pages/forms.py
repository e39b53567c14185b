"""The lead page's forms: one per command, read with the API's own input models and turned
into the same commands the API sends (a form's name is the API's path for the command)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel

from ledger.application.choices import Person
from ledger.commands import (
    Accept,
    Archive,
    Assign,
    Command,
    Conclude,
    ExtendDeadline,
    GiveFeedback,
    RecordVerification,
    Reopen,
    Return,
    Transfer,
)
from ledger.schemas import (
    AcceptIn,
    ArchiveIn,
    AssignIn,
    ConcludeIn,
    ExtendIn,
    FeedbackIn,
    ReopenIn,
    ReturnIn,
    TransferIn,
    VerificationIn,
)

Build = Callable[[str, Any], Command]


@dataclass(frozen=True)
class Form:
    name: str  # the API's path for the command, and the form's
    command: type[Command]
    heading: tuple[str, str]
    model: type[BaseModel]
    build: Build


FORMS: Final[tuple[Form, ...]] = (
    Form(
        "accept",
        Accept,
        ("接收", "Accept"),
        AcceptIn,
        lambda lead_id, _: Accept(lead_id=lead_id),
    ),
    Form(
        "return",
        Return,
        ("退回", "Return"),
        ReturnIn,
        lambda lead_id, body: Return(lead_id=lead_id, reason=body.reason),
    ),
    Form(
        "transfer",
        Transfer,
        ("移交", "Transfer"),
        TransferIn,
        lambda lead_id, body: Transfer(lead_id=lead_id, to_unit=body.to_unit, reason=body.reason),
    ),
    Form(
        "assign",
        Assign,
        ("责任到人", "Assign a responsible person"),
        AssignIn,
        lambda lead_id, body: Assign(
            lead_id=lead_id,
            assignee=body.assignee,
            assignee_name=body.assignee_name,
            deadline=body.deadline,
            reason=body.reason,
        ),
    ),
    Form(
        "extend-deadline",
        ExtendDeadline,
        ("延长时限", "Extend the deadline"),
        ExtendIn,
        lambda lead_id, body: ExtendDeadline(
            lead_id=lead_id, deadline=body.deadline, reason=body.reason
        ),
    ),
    Form(
        "verification",
        RecordVerification,
        ("记录核查情况", "Record verification"),
        VerificationIn,
        lambda lead_id, body: RecordVerification(lead_id=lead_id, note=body.note),
    ),
    Form(
        "conclude",
        Conclude,
        ("办结", "Conclude"),
        ConcludeIn,
        lambda lead_id, body: Conclude(lead_id=lead_id, result=body.result, summary=body.summary),
    ),
    Form(
        "feedback",
        GiveFeedback,
        ("答复举报人", "Answer the reporter"),
        FeedbackIn,
        lambda lead_id, body: GiveFeedback(lead_id=lead_id, text=body.text, method=body.method),
    ),
    Form(
        "archive",
        Archive,
        ("归档", "Archive"),
        ArchiveIn,
        lambda lead_id, _: Archive(lead_id=lead_id),
    ),
    Form(
        "reopen",
        Reopen,
        ("重新启用（回头看）", "Reopen for a look-back review"),
        ReopenIn,
        lambda lead_id, body: Reopen(lead_id=lead_id, reason=body.reason),
    ),
)

BY_NAME: Final = {form.name: form for form in FORMS}

#: How the reporter is answered: shown with the answer (the receipt page shows every answer).
FEEDBACK_METHODS: Final[dict[str, tuple[str, str]]] = {
    "receipt": ("查询页答复", "on the receipt page"),
    "phone": ("电话告知", "by telephone"),
    "in_person": ("当面告知", "in person"),
    "letter": ("书面答复", "in writing"),
}

# Fields a form may leave empty for the command's own default (the category's deadline,
# no reason for a first assignment).
_OPTIONAL: Final = frozenset({"deadline", "reason"})


def fields(form: Form, sent: Mapping[str, str], people: list[Person]) -> dict[str, Any]:
    """What the form sent, as the API's body for the command: an optional field left empty
    is not sent, and the assignee's name is the one their account (or the users file) gives."""
    body: dict[str, Any] = {
        name: value
        for name, value in sent.items()
        if name != "csrf_token" and not (name in _OPTIONAL and value.strip() == "")
    }
    if form.command is Assign and "assignee" in body:
        chosen = next((p for p in people if p.user == body["assignee"]), None)
        body.setdefault("assignee_name", chosen.name if chosen else body["assignee"])
    return body
