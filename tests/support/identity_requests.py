"""Reading a named reporter's identity as the rules now allow: asked for by one person,
approved by a custodian other than the asker, read once by the asker."""

from __future__ import annotations

import httpx

from tests.support.apps import token

ASKED = {"reason_category": "statement", "reason": "需制作询问笔录"}


async def ask(intake: httpx.AsyncClient, lead_id: str, user: str) -> httpx.Response:
    return await intake.post(
        f"/v1/leads/{lead_id}/identity/requests", json=ASKED, headers=token(user)
    )


async def read_on_approval(
    intake: httpx.AsyncClient, lead_id: str, asker: str = "police", approver: str = "custodian"
) -> httpx.Response:
    """The asker's read of a request the approver approved (the answer of the read, or of
    the first step refused)."""
    asked = await ask(intake, lead_id, asker)
    if asked.status_code != 201:
        return asked
    request = f"/v1/leads/{lead_id}/identity/requests/{asked.json()['request_id']}"
    approved = await intake.post(f"{request}/approve", json={}, headers=token(approver))
    if approved.status_code != 200:
        return approved
    return await intake.post(f"{request}/read", headers=token(asker))
