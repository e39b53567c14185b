"""A file handed out (a download, a ZIP's entry, a dossier's) is named with an extension
saying the type judged from its bytes: every type kept has one, and each kind its words."""

from __future__ import annotations

from common.evidence_files import ACCEPTED, EXTENSIONS, Kind
from intake.pages.evidence_desk import KINDS


def test_every_type_intake_keeps_has_an_extension_and_every_kind_its_words() -> None:
    assert set(EXTENSIONS) == set(ACCEPTED)
    assert all(ext.startswith(".") and ext[1:].isalnum() for ext in EXTENSIONS.values())
    assert set(KINDS) == set(Kind)
