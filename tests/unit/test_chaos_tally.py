"""The chaos run's count names what it is there to find: a lead lost, a lead twice, a hole
or a repeat in the ledger numbers, a projection that differs; and its faults come at the
same moments for the same seed."""

from __future__ import annotations

from collections import Counter

from leadctl.chaos.faults import Blow, FaultPlan
from leadctl.chaos.load import LoadResult, PlannedReport, plan_reports
from leadctl.chaos.tally import LogCount, ProjectionCheck, figures, number_problems

EQUAL = [ProjectionCheck(s, True, "equal") for s in ("intake", "ledger", "oversight")]
NOTHING_PARKED = {"intake": 0, "ledger": 0, "oversight": 0}


def a_clean_run(count: int = 3) -> tuple[list[PlannedReport], LoadResult, LogCount]:
    """Every report accepted once, reported once, registered once under the next number."""
    reports = plan_reports(7, count)
    load, log = LoadResult(), LogCount()
    for report in reports:
        lead = f"lead{report.number}"
        load.accepted[report.key] = lead
        log.reported[lead] += 1
        log.registered[lead] += 1
        log.leads_of_report[report.number].add(lead)
        log.numbers.append(f"SHD-2026-{report.number + 1:06d}")
    return reports, load, log


def test_a_clean_run_passes_with_every_figure_at_zero() -> None:
    reports, load, log = a_clean_run()

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert (found.accepted, found.registered, found.missing, found.duplicated) == (3, 3, 0, 0)
    assert found.failures() == []


def test_an_accepted_lead_that_never_reached_intakes_stream_is_missing() -> None:
    reports, load, log = a_clean_run()
    del log.reported["lead1"]

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert found.not_in_intake == ["lead1"]
    assert found.missing == 1
    assert "1 accepted leads missing" in found.failures()


def test_an_accepted_lead_the_ledger_never_registered_is_missing() -> None:
    reports, load, log = a_clean_run()
    del log.registered["lead2"]

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert found.never_registered == ["lead2"]
    assert found.registered == 2
    assert found.missing == 1


def test_a_lead_reported_or_registered_twice_is_a_duplicate() -> None:
    reports, load, log = a_clean_run()
    log.reported["lead0"] += 1
    log.registered["lead2"] += 1

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert (found.reported_twice, found.registered_twice) == (["lead0"], ["lead2"])
    assert found.duplicated == 2
    assert found.failures()


def test_one_report_stored_as_two_leads_is_a_duplicate_even_if_the_client_saw_one() -> None:
    reports, load, log = a_clean_run()
    log.reported["lead1-again"] += 1
    log.leads_of_report[1].add("lead1-again")

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert found.reports_with_two_leads == [1]
    assert found.duplicated == 1


def test_a_key_answered_with_two_leads_is_a_duplicate() -> None:
    reports, load, log = a_clean_run()
    load.conflicting[reports[0].key] = {"lead0", "other"}

    assert figures(reports, load, log, NOTHING_PARKED, EQUAL).duplicated == 1


def test_a_registration_nobody_reported_fails_the_run() -> None:
    reports, load, log = a_clean_run()
    log.registered["phantom"] += 1

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert found.registered_unreported == ["phantom"]
    assert found.failures()


def test_a_projection_that_differs_from_its_replay_fails_the_run() -> None:
    reports, load, log = a_clean_run()
    checks = [*EQUAL[:2], ProjectionCheck("oversight", False, "differs in oversight_cases")]

    assert (
        "a projection differs from its replay"
        in figures(reports, load, log, NOTHING_PARKED, checks).failures()
    )


def test_a_report_never_accepted_before_the_deadline_fails_the_run() -> None:
    reports, load, log = a_clean_run()
    del load.accepted[reports[2].key]

    found = figures(reports, load, log, NOTHING_PARKED, EQUAL)

    assert found.unfinished == [reports[2].key]
    assert found.stored_unanswered == 1  # it reached the stream all the same
    assert found.failures() == ["1 reports never accepted before the deadline"]


def test_ledger_numbers_one_to_n_are_gap_free() -> None:
    assert number_problems([f"SHD-2026-{n:06d}" for n in (3, 1, 2)]) == []


def test_a_hole_in_the_ledger_numbers_is_named() -> None:
    assert number_problems(["SHD-2026-000001", "SHD-2026-000003"]) == [
        "SHD-2026: 1 numbers never given (2…)"
    ]


def test_a_number_given_twice_is_named() -> None:
    problems = number_problems(["SHD-2026-000001", "SHD-2026-000002", "SHD-2026-000002"])
    assert problems == ["SHD-2026-000002 given 2 times"]


def test_each_year_is_its_own_series() -> None:
    assert number_problems(["SHD-2026-000001", "SHD-2027-000001"]) == []


def test_the_same_seed_plans_the_same_faults_at_the_same_moments() -> None:
    plan = FaultPlan()

    assert plan.schedule(42, 60.0) == plan.schedule(42, 60.0)
    assert plan.schedule(42, 60.0) != plan.schedule(43, 60.0)


def test_the_plan_deals_every_blow_asked_for_in_the_middle_of_the_load() -> None:
    faults = FaultPlan(ledger_kills=2, lock_seconds=15).schedule(1, 60.0)

    blows = Counter((f.blow, f.target) for f in faults)
    assert blows == {
        (Blow.KILL, "ledger"): 2,
        (Blow.KILL, "oversight"): 1,
        (Blow.KILL, "intake"): 1,
        (Blow.NATS, "nats-server"): 1,
        (Blow.LOCK, "ledger"): 1,
    }
    assert all(6.0 <= f.at <= 51.0 for f in faults)
    assert [f.at for f in faults] == sorted(f.at for f in faults)


def test_the_same_seed_sends_the_same_reports_under_the_same_keys() -> None:
    first, again = plan_reports(5, 50), plan_reports(5, 50)

    assert first == again
    assert len({r.key for r in first}) == 50
    assert all(len(r.key) >= 16 for r in first)  # intake's lower bound for a key
