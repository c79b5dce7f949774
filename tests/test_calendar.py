"""The calendar: n-th weekdays, French public holidays, daylight-saving nights."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pvp.calendar import (
    Closure,
    ClosureKind,
    DayRules,
    Mode,
    Schedule,
    Window,
    french_holidays,
    intervals_on,
    wall_to_instant,
)

PARIS = ZoneInfo("Europe/Paris")
FOURTH_FRIDAY = Window(Mode.WALK_IN, frozenset({4}), time(9), time(12), nth=frozenset({4}))


def fridays(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    return [
        first + timedelta(days=d)
        for d in range(31)
        if (first + timedelta(days=d)).month == month and (first + timedelta(days=d)).weekday() == 4
    ]


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        # Months whose 1st is a Friday: the 4th Friday is the 22nd.
        (2006, 9, date(2006, 9, 22)),
        (2006, 12, date(2006, 12, 22)),
        (2026, 5, date(2026, 5, 22)),
        # Months whose 1st is a Saturday: the first Friday is the 7th, the 4th the 28th.
        (2006, 4, date(2006, 4, 28)),
        (2006, 7, date(2006, 7, 28)),
        (2026, 8, date(2026, 8, 28)),
        # February of a non-leap year starting on a Saturday (2031): the 4th Friday is the 28th.
        (2031, 2, date(2031, 2, 28)),
    ],
)
def test_fourth_friday_is_the_fourth_occurrence_not_the_fourth_calendar_row(
    year: int, month: int, expected: date
) -> None:
    matching = [d for d in fridays(year, month) if FOURTH_FRIDAY.applies_on(d)]
    assert matching == [expected]
    assert fridays(year, month)[3] == expected


def test_last_weekday_of_month() -> None:
    last_friday = Window(Mode.WALK_IN, frozenset({4}), time(9), time(12), nth=frozenset({-1}))
    assert [d for d in fridays(2006, 3) if last_friday.applies_on(d)] == [date(2006, 3, 31)]
    assert [d for d in fridays(2006, 4) if last_friday.applies_on(d)] == [date(2006, 4, 28)]


FIXED = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}


@pytest.mark.parametrize(
    ("year", "easter_monday", "ascension", "whit_monday"),
    [
        # 2006 lies in the years 2005-2007 when Whit Monday was the "journée de solidarité",
        # a working day by default (law of 30 June 2004, relaxed by the law of 16 April 2008).
        (2006, date(2006, 4, 17), date(2006, 5, 25), None),
        (2026, date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25)),
        (2027, date(2027, 3, 29), date(2027, 5, 6), date(2027, 5, 17)),
    ],
)
def test_every_french_public_holiday(
    year: int, easter_monday: date, ascension: date, whit_monday: date | None
) -> None:
    h = french_holidays()
    expected = {date(year, m, d) for m, d in FIXED} | {easter_monday, ascension}
    if whit_monday:
        expected.add(whit_monday)
    found = {
        d
        for d in (date(year, 1, 1) + timedelta(days=i) for i in range(366))
        if d.year == year and d in h
    }
    assert found == expected
    assert h.get(date(year, 11, 1)) == "Toussaint"
    assert h.get(easter_monday) == "Lundi de Pâques"


def test_day_rules_report_holiday_before_local_closure() -> None:
    rules = DayRules(closures=(Closure(date(2006, 10, 30), date(2006, 11, 3), "travaux"),))
    assert rules.closed_on(date(2006, 11, 1)) == (ClosureKind.PUBLIC_HOLIDAY, "Toussaint")
    assert rules.closed_on(date(2006, 11, 2)) == (ClosureKind.LOCAL_CLOSURE, "travaux")
    assert rules.closed_on(date(2006, 11, 6)) is None


# DST in Europe/Paris: 2026-03-29 (02:00 -> 03:00) and 2026-10-25 (03:00 -> 02:00).
def test_window_keeps_its_wall_clock_hours_across_both_dst_weekends() -> None:
    w = Window(Mode.WALK_IN, frozenset(range(7)), time(9), time(12))
    for day, utc_hour in [
        (date(2026, 3, 28), 8),
        (date(2026, 3, 29), 7),
        (date(2026, 3, 30), 7),
        (date(2026, 10, 24), 7),
        (date(2026, 10, 25), 8),
        (date(2026, 10, 26), 8),
    ]:
        [interval] = intervals_on([w], day, PARIS)
        assert interval.start.astimezone(UTC).hour == utc_hour
        assert interval.end - interval.start == timedelta(hours=3)


def test_wall_time_in_the_spring_gap_opens_at_the_end_of_the_gap() -> None:
    opening = wall_to_instant(date(2026, 3, 29), time(2, 30), PARIS)
    assert opening == datetime(2026, 3, 29, 3, 0, tzinfo=PARIS)
    assert opening.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_ambiguous_autumn_wall_time_is_its_first_occurrence() -> None:
    opening = wall_to_instant(date(2026, 10, 25), time(2, 30), PARIS)
    assert opening.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_night_window_on_the_short_night_lasts_an_hour_less() -> None:
    w = Window(Mode.WALK_IN, frozenset({6}), time(1), time(4))
    [short] = intervals_on([w], date(2026, 3, 29), PARIS)
    [long] = intervals_on([w], date(2026, 10, 25), PARIS)
    assert short.end - short.start == timedelta(hours=2)
    assert long.end - long.start == timedelta(hours=4)


def test_next_opening_across_the_spring_change() -> None:
    sunday_morning = Window(Mode.WALK_IN, frozenset({6}), time(9), time(12))
    schedule = Schedule((sunday_morning,), DayRules(), PARIS)
    saturday_evening = datetime(2026, 3, 28, 20, 0, tzinfo=PARIS)
    nxt = schedule.next_opening(saturday_evening)
    assert nxt == datetime(2026, 3, 29, 9, 0, tzinfo=PARIS)
    assert nxt.astimezone(PARIS).utcoffset() == timedelta(hours=2)
    assert nxt - saturday_evening == timedelta(hours=12)  # 13 wall-clock hours, one lost


def test_next_opening_skips_holidays_and_closures() -> None:
    vorey_anpe = Window(Mode.APPOINTMENT, frozenset({2, 3}), time(9), time(12))
    rules = DayRules(closures=(Closure(date(2006, 11, 2), date(2006, 11, 8), "congés"),))
    schedule = Schedule((vorey_anpe,), rules, PARIS)
    # Toussaint (Wed 1st) then the closure up to Wed 8th: next is Thursday 9th.
    assert schedule.next_opening(datetime(2006, 10, 31, 18, tzinfo=PARIS)) == datetime(
        2006, 11, 9, 9, tzinfo=PARIS
    )


def test_no_window_means_no_next_opening() -> None:
    assert Schedule((), DayRules(), PARIS).next_opening(datetime.now(PARIS)) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": time(12), "end": time(9)},
        {"weekdays": frozenset()},
        {"nth": frozenset({6})},
        {"valid_from": date(2007, 1, 1), "valid_until": date(2006, 1, 1)},
    ],
)
def test_invalid_windows_are_refused(kwargs: dict) -> None:
    base = {"mode": Mode.WALK_IN, "weekdays": frozenset({0}), "start": time(9), "end": time(12)}
    with pytest.raises(ValueError):
        Window(**{**base, **kwargs})


def test_date_range_and_exceptions_bound_a_window() -> None:
    w = Window(
        Mode.WALK_IN,
        frozenset({0}),
        time(9),
        time(12),
        valid_from=date(2006, 9, 1),
        valid_until=date(2006, 12, 31),
        except_dates=frozenset({date(2006, 10, 2)}),
    )
    assert not w.applies_on(date(2006, 8, 28))
    assert w.applies_on(date(2006, 9, 4))
    assert not w.applies_on(date(2006, 10, 2))
    assert not w.applies_on(date(2007, 1, 1))


def test_window_in_the_repeated_autumn_hour_is_open_during_both_passes() -> None:
    w = Window(Mode.WALK_IN, frozenset({6}), time(2, 30), time(2, 45))
    spans = [(i.start, i.end) for i in intervals_on([w], date(2026, 10, 25), PARIS)]
    assert spans == [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 45, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 45, tzinfo=UTC)),
    ]
