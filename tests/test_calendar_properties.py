"""Property: the next opening returned is open, and nothing between the asking instant and it is.

The oracle here is deliberately independent of :mod:`pvp.calendar`'s interval code: it walks
the minutes of the local wall clock, so a mistake in the DST handling shows up as a mismatch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvp.calendar import Closure, DayRules, Mode, Schedule, Window, french_holidays

PARIS = ZoneInfo("Europe/Paris")
HOLIDAYS = french_holidays()


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(st.integers(0, 23 * 60 - 15))
    length = draw(st.integers(15, 24 * 60 - 1 - start))
    end = start + length
    return Window(
        mode=draw(st.sampled_from(list(Mode))),
        weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1, max_size=3))),
        start=time(start // 60, start % 60),
        end=time(end // 60, end % 60),
        nth=frozenset(draw(st.sets(st.sampled_from([-1, 1, 2, 3, 4, 5]), max_size=2))),
    )


@st.composite
def closures(draw: st.DrawFn) -> Closure:
    first = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    return Closure(first, first + timedelta(days=draw(st.integers(0, 20))), "fermeture")


# Instants around both 2026 DST changes and ordinary days, to the minute.
instants = st.one_of(
    st.datetimes(datetime(2026, 3, 27), datetime(2026, 3, 31)),
    st.datetimes(datetime(2026, 10, 23), datetime(2026, 10, 27)),
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)),
).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC))


def oracle_open(schedule: Schedule, instant: datetime) -> bool:
    """Open by the wall clock: the local date is not closed and a window holds the local time."""
    local = instant.astimezone(PARIS)
    day = local.date()
    if day in HOLIDAYS or any(c.covers(day) for c in schedule.rules.closures):
        return False
    return any(w.applies_on(day) and w.start <= local.time() < w.end for w in schedule.windows)


def oracle_next(schedule: Schedule, after: datetime, limit: timedelta) -> datetime | None:
    """The first open minute by brute force (UTC minutes, so no wall-clock ambiguity)."""
    t = after
    while t - after <= limit:
        if oracle_open(schedule, t):
            return t
        t += timedelta(minutes=1)
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ws=st.lists(windows(), min_size=1, max_size=3),
    cs=st.lists(closures(), max_size=2),
    after=instants,
)
def test_next_opening_is_open_and_nothing_earlier_is(
    ws: list[Window], cs: list[Closure], after: datetime
) -> None:
    schedule = Schedule(tuple(ws), DayRules(HOLIDAYS, tuple(cs)), PARIS)
    nxt = schedule.next_opening(after)
    assert nxt is not None  # every window recurs within the horizon, closures are short
    assert nxt >= after
    assert schedule.is_open(nxt)
    assert oracle_open(schedule, nxt)
    # Nothing earlier is open: brute force over at most 10 days, sampled beyond.
    span = nxt - after
    if span <= timedelta(days=10):
        assert oracle_next(schedule, after, span) == nxt
    else:
        step = span / 500
        assert not any(oracle_open(schedule, after + step * i) for i in range(500))


@settings(max_examples=300, deadline=None)
@given(ws=st.lists(windows(), min_size=1, max_size=3), instant=instants)
def test_is_open_agrees_with_the_wall_clock(ws: list[Window], instant: datetime) -> None:
    schedule = Schedule(tuple(ws), DayRules(HOLIDAYS), PARIS)
    assert schedule.is_open(instant) == oracle_open(schedule, instant)
