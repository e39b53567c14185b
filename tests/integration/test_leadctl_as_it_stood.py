"""`leadctl replay --until`: the ledger as it stood at a moment, exported with the statuses
and the responsible people it had then."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import NatsTarget
from tests.support.leadctl import ScriptedLedger, leadctl, on, printed, succeeded

pytestmark = pytest.mark.integration


def exported(path: Path) -> dict[str, dict[str, str]]:
    """The exported ledger sheet: each row by its ledger number, by its Chinese header."""
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    headers = rows[0]
    return {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}


def test_replay_until_a_moment_exports_the_ledger_with_the_statuses_and_assignees_it_had_then(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget, tmp_path: Path
) -> None:
    then_db, now_db = tmp_path / "then.db", tmp_path / "now.db"
    then_xlsx, now_xlsx = tmp_path / "then.xlsx", tmp_path / "now.xlsx"

    then = succeeded(
        leadctl(
            *on(nats_target),
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{then_db}",
            "--until",
            scripted_ledger.moment.isoformat(),
            "--json",
        )
    )
    succeeded(leadctl(*on(nats_target), "replay", "ledger", "--db", f"sqlite:///{now_db}"))
    exporting_then = succeeded(
        leadctl("export", "ledger", "--db", f"sqlite:///{then_db}", "--xlsx", then_xlsx)
    )
    succeeded(leadctl("export", "ledger", "--db", f"sqlite:///{now_db}", "--xlsx", now_xlsx))

    assert printed(then)["until"] == scripted_ledger.moment.isoformat()
    assert "2 leads exported" in exporting_then.stdout
    number = scripted_ledger.walked_number
    as_it_stood, as_it_stands = exported(then_xlsx)[number], exported(now_xlsx)[number]
    assert (as_it_stood["责任人"], as_it_stood["办理状态"]) == ("王警官", "已责任到人")
    assert (as_it_stands["责任人"], as_it_stands["办理状态"]) == ("李警官", "核查中")
    assert as_it_stood["移交单位"] == as_it_stands["移交单位"] == "沙河店派出所"
    assert [row["办理状态"] for row in exported(then_xlsx).values() if row["编号"] != number] == [
        "已登记"
    ]
