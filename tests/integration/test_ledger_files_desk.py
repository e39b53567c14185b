"""The desk's staff-file form over HTTP, signed in with a session: the file is read as the
body arrives and stored sealed, never spooled by the form parser (whose temporary files
hold what they are given in clear); a form without the session's token, or a body that is
not the form, stores nothing; a person who may not see the lead finds no such lead."""

from __future__ import annotations

from typing import Any

import pytest
import starlette.formparsers

from common.events import Role
from tests.integration.test_ledger_pages import HIDDEN, Person, desk, person  # noqa: F401
from tests.support.apps import token
from tests.support.ledger import LedgerService, filed, report

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(300_000)


async def listed(service: LedgerService, lead_id: str) -> list[dict[str, Any]]:
    answer = await service.http.get(f"/v1/ledger/leads/{lead_id}/files", headers=token("office"))
    assert answer.status_code == 200, answer.text
    files: list[dict[str, Any]] = answer.json()["files"]
    return files


async def test_the_desk_form_stores_the_file_as_it_arrives_and_only_with_its_token(
    desk: LedgerService,  # noqa: F811 - the fixture imported above
    person: Person,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_spool(*_: object, **__: object) -> None:
        raise AssertionError("the form parser spooled a file part (in clear)")

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_spool)
    lead_id = await report(desk.js)
    await filed(desk.http, lead_id)
    office, csrf = await person("li.office", Role.OFFICE, "shd-office")
    address = f"/desk/leads/{lead_id}/files"
    the_file = {"file": ("会议记录.pdf", PDF, "application/pdf")}

    for wrong in ({}, {"csrf_token": "guess"}):
        refused = await office.post(address, data={"title": "会议记录", **wrong}, files=the_file)
        assert refused.status_code == 403, refused.text
    not_a_form = await office.post(address, content=PDF, headers={"Content-Type": "text/plain"})
    assert not_a_form.status_code == 422, not_a_form.text
    assert "无法读取" in not_a_form.text
    assert await listed(desk, lead_id) == []

    sent = await office.post(
        address, data={"csrf_token": csrf, "title": "会议记录"}, files=the_file
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].endswith(f"/desk/leads/{lead_id}#files")
    stored = await listed(desk, lead_id)
    assert [(f["title"], f["size"], f["uploaded_by"]) for f in stored] == [
        ("会议记录", len(PDF), "li.office")
    ]
    # The browser's file name is not kept anywhere the list shows.
    assert "会议记录.pdf" not in str(stored)

    # Police of a unit not holding the lead: the lead is not there for them.
    police, police_csrf = await person("zhang.police", Role.POLICE, "shd-police")
    hidden = await police.post(
        address, data={"csrf_token": police_csrf, "title": "会议记录"}, files=the_file
    )
    assert hidden.status_code == 404, hidden.text
    assert HIDDEN in hidden.text
    assert len(await listed(desk, lead_id)) == 1
