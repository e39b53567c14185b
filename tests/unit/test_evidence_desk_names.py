"""A download from the desk's evidence page is saved under a name whose extension says the
type judged from its bytes: every type intake keeps has one, and each kind its words."""

from __future__ import annotations

from common.evidence_files import ACCEPTED, Kind
from intake.evidence_zip import EXTENSIONS
from intake.pages.evidence_desk import KINDS


def test_every_type_intake_keeps_has_an_extension_and_every_kind_its_words() -> None:
    assert set(EXTENSIONS) == set(ACCEPTED)
    assert all(ext.startswith(".") and ext[1:].isalnum() for ext in EXTENSIONS.values())
    assert set(KINDS) == set(Kind)
