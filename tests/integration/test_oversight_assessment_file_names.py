"""The assessment's XLSX file is named for the town when it holds one town's units alone (a
town's reader's, or one town asked for), so files of two towns saved side by side are told
apart; a town's reader asking for another town is answered as for a town that does not
exist."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.test_county import county  # noqa: F401 - the fixture
from tests.integration.test_oversight_towns import SHD_READERS, committees
from tests.support.apps import token
from tests.support.ledger import LedgerService
from tests.support.oversight import OversightService

pytestmark = pytest.mark.integration
__all__ = ["committees"]
SHEET = "/v1/oversight/assessments.xlsx"


def file_name(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    found = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert found is not None, response.headers["content-disposition"]
    return found.group(1)


async def test_a_file_of_one_town_is_named_for_it(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,
) -> None:
    http = committees.http
    every = await http.get(SHEET, headers=token("county.auditor"))
    assert re.fullmatch(r"assessment-\d{8}\.xlsx", file_name(every))
    one = await http.get(SHEET, params={"town": "zxl"}, headers=token("county.auditor"))
    assert re.fullmatch(r"assessment-zxl-\d{8}\.xlsx", file_name(one))

    for user in SHD_READERS:
        own = await http.get(SHEET, headers=token(user))
        assert re.fullmatch(r"assessment-shd-\d{8}\.xlsx", file_name(own)), user
        asked = await http.get(SHEET, params={"town": "shd"}, headers=token(user))
        assert re.fullmatch(r"assessment-shd-\d{8}\.xlsx", file_name(asked)), user
        other = await http.get(SHEET, params={"town": "zxl"}, headers=token(user))
        unknown = await http.get(SHEET, params={"town": "nowhere"}, headers=token(user))
        assert other.status_code == unknown.status_code == 422, other.text
        assert other.json()["detail"][0]["field"] == "town"
        assert other.text.replace("zxl", "X") == unknown.text.replace("nowhere", "X")
