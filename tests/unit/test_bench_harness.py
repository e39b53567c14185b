"""The benchmark harness: ``make bench``'s runner fails loudly when a script fails, every
benchmark script imports cleanly, and the duplicate benchmark's bulk seeding leaves the
tables exactly as the detector's own rows would."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bench import bench_duplicates, run_all
from bench.duplicate_corpus import corpus
from common.database import sync_engine
from common.migrations import upgrade
from intake.domain.matters import BANDS, shingles
from intake.duplicates import LOOK_BACK, band_rows, matter_bands, matters

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_script_imports(tmp_path: Path) -> None:
    names = run_all.scripts()
    assert "bench_duplicates" in names
    # In a process of its own: some scripts set their defaults in the environment.
    probe = (
        "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(f'bench.{name}')"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter and module names)
        [sys.executable, "-c", probe, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_runner_lists_the_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_all.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == run_all.scripts()


def test_the_runner_refuses_an_unknown_script() -> None:
    with pytest.raises(SystemExit) as refused:
        run_all.main(["bench_nothing_of_the_kind"])
    assert refused.value.code == 2


def test_the_runner_fails_when_a_script_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = {"bench_work": 0, "bench_live": 3}
    monkeypatch.setattr(
        run_all,
        "command",
        lambda name: [sys.executable, "-c", f"raise SystemExit({outcomes[name]})"],
    )
    assert run_all.main(["bench_live", "bench_work"]) == 1
    captured = capsys.readouterr()
    # The failing one named, the next one still run, the total printed.
    assert "time bench_live:" in captured.out
    assert "FAILED (exit 3)" in captured.out
    assert "time bench_work:" in captured.out
    assert "time make bench:" in captured.out
    assert "bench_live" in captured.err


def test_the_runner_passes_when_every_script_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_all, "command", lambda _name: [sys.executable, "-c", "pass"])
    assert run_all.main(["bench_work"]) == 0
    assert "FAILED" not in capsys.readouterr().out


def test_bulk_seeding_writes_the_rows_the_detector_writes(tmp_path: Path) -> None:
    history = list(itertools.islice(corpus(seed=3, villages=20), 300))
    assert any(r.village is None for r in history)
    bulk = tmp_path / "bulk.db"
    bench_duplicates.seed(bulk, history)

    one_by_one = tmp_path / "one-by-one.db"
    engine = sync_engine(f"sqlite:///{one_by_one}")
    upgrade(engine, "intake")
    spacing = (LOOK_BACK - timedelta(days=1)) / len(history)
    start = bench_duplicates.NOW - LOOK_BACK + timedelta(hours=12)
    with engine.begin() as conn:
        for number, report in enumerate(history):
            marks = shingles(report.text)
            at = start + spacing * number
            lead_id = f"h{number:09d}"
            conn.execute(
                matters.insert().values(
                    lead_id=lead_id,
                    village=report.village,
                    category=report.category.value,
                    shingles=" ".join(sorted(marks)),
                    reported_at=at,
                )
            )
            conn.execute(
                matter_bands.insert(),
                band_rows(lead_id, report.village, report.category.value, marks, at),
            )
    engine.dispose()

    def contents(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        engine = sync_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            found = (
                [tuple(r) for r in conn.execute(select(matters).order_by(matters.c.lead_id))],
                [tuple(r) for r in conn.execute(select(matter_bands).order_by(*matter_bands.c))],
            )
        engine.dispose()
        return found

    bulk_matters, bulk_bands = contents(bulk)
    assert len(bulk_bands) == BANDS * len(history)
    assert (bulk_matters, bulk_bands) == contents(one_by_one)
