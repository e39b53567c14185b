"""Path parameters every service's API shares, bounded where they enter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: A lead id as subjects carry it (common.subjects.check_token): anything else names no
#: lead, and is refused as the path's fault (422) before any lookup.
LeadId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="A lead's id: 1-64 letters, digits, '-' or '_'",
    ),
]

#: A discipline case's id: the hex of the UUID derived from its lead
#: (oversight.domain.cases.case_id_for); anything else names no case.
CaseId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{32}$",
        description="A case's id: 32 lowercase hexadecimal digits",
    ),
]

#: A notice's id (通报): the hex of a random UUID; anything else names no notice.
NoticeId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{32}$",
        description="A notice's id: 32 lowercase hexadecimal digits",
    ),
]
