"""Reads grouped into views for the access log and the leak-risk report: a person's reads of
one lead within the window of the first of them are one view, with how many and the first
and the last; nothing is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oversight.domain.views import Read, View, views

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)


def read(
    minutes: float,
    user: str = "screener.v01",
    lead_id: str | None = "L1",
    kind: str = "viewed",
    service: str = "ledger",
    purpose: str = "查阅线索",
) -> Read:
    at = T0 + timedelta(minutes=minutes)
    return Read(
        event_id=f"{user}-{lead_id}-{kind}-{service}-{minutes}",
        lead_id=lead_id,
        at=at,
        kind=kind,
        service=service,
        user=user,
        role="screener",
        unit="shd-v01",
        purpose=purpose,
    )


def shape(grouped: list[View]) -> list[tuple[str | None, str | None, int, datetime, datetime]]:
    return [(v.first.user, v.first.lead_id, v.count, v.first_at, v.last_at) for v in grouped]


def test_ten_refreshes_within_minutes_are_one_view_with_their_count() -> None:
    refreshes = [read(m * 0.5) for m in range(10)]
    [view] = views(refreshes, TEN_MINUTES)
    assert (view.count, view.first_at, view.last_at) == (10, T0, T0 + timedelta(minutes=4.5))
    assert view.reads == tuple(refreshes)  # every read kept


def test_two_people_reading_one_lead_are_two_views() -> None:
    grouped = views([read(0), read(1, user="screener.v02"), read(2)], TEN_MINUTES)
    assert shape(grouped) == [
        ("screener.v01", "L1", 2, T0, T0 + timedelta(minutes=2)),
        ("screener.v02", "L1", 1, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1)),
    ]


def test_a_read_twenty_minutes_later_is_a_second_view() -> None:
    grouped = views([read(0), read(3), read(20)], TEN_MINUTES)
    assert [v.count for v in grouped] == [2, 1]
    assert grouped[1].first_at == T0 + timedelta(minutes=20)


def test_a_view_lasts_the_window_from_its_first_read_however_often_it_is_refreshed() -> None:
    # Reading every three minutes for half an hour is not one endless view.
    every_three_minutes = [read(m) for m in range(0, 31, 3)]
    grouped = views(every_three_minutes, TEN_MINUTES)
    assert [(v.count, v.first_at) for v in grouped] == [
        (4, T0),  # 0, 3, 6, 9
        (4, T0 + timedelta(minutes=12)),  # 12, 15, 18, 21
        (3, T0 + timedelta(minutes=24)),  # 24, 27, 30
    ]
    assert sum(v.count for v in grouped) == len(every_three_minutes)


def test_a_read_at_the_end_of_the_window_still_belongs_to_the_view() -> None:
    assert [v.count for v in views([read(0), read(10), read(10.01)], TEN_MINUTES)] == [2, 1]


def test_each_lead_and_each_service_is_its_own_view() -> None:
    grouped = views([read(0), read(1, lead_id="L2"), read(2, service="oversight")], TEN_MINUTES)
    assert len(grouped) == 3


def test_exports_and_disclosures_are_never_grouped() -> None:
    exports = [read(0, lead_id=None, kind="exported"), read(1, lead_id=None, kind="exported")]
    disclosures = [read(2, kind="identity_disclosed"), read(3, kind="identity_disclosed")]
    assert [v.count for v in views([*exports, *disclosures], TEN_MINUTES)] == [1, 1, 1, 1]


def test_without_a_window_every_read_is_a_view() -> None:
    assert [v.count for v in views([read(0), read(0.1), read(0.2)], timedelta(0))] == [1, 1, 1]


def test_reads_are_grouped_in_time_order_whatever_order_they_come_in() -> None:
    assert shape(views([read(5), read(25), read(0)], TEN_MINUTES)) == shape(
        views([read(0), read(5), read(25)], TEN_MINUTES)
    )


def test_a_view_names_each_purpose_once() -> None:
    [view] = views(
        [
            read(0, purpose="核查"),
            read(1, purpose=""),
            read(2, purpose="复核"),
            read(3, purpose="核查"),
        ],
        TEN_MINUTES,
    )
    assert view.purposes == ["核查", "复核"]


def test_the_read_before_a_moment_is_the_views_last_one_within_the_window() -> None:
    [view] = views([read(0), read(4), read(8)], TEN_MINUTES)
    moment = T0 + timedelta(minutes=5)
    assert view.last_read_before(moment, timedelta(hours=1)) == T0 + timedelta(minutes=4)
    assert view.last_read_before(moment, timedelta(minutes=3)) == T0 + timedelta(minutes=4)
    assert view.last_read_before(moment, timedelta(seconds=30)) is None
    assert view.last_read_before(T0 - timedelta(minutes=1), timedelta(hours=1)) is None
