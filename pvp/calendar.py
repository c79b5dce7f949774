"""Opening windows, holidays and closures: the pure calendar under every routing decision.

Wall-clock times are in the deployment's zone (setting ``timezone``). Instants are handled in UTC:
Python compares and subtracts two datetimes of the *same* zone by wall clock, which is wrong
across a daylight-saving change, so every instant this module returns is aware and UTC.
No I/O: the public-holiday table comes from the ``holidays`` library, which computes it
(moving feasts included) without touching the disk or the network.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Far enough for a window that opens once a year; bounded so a plan with no window at all
# answers "no next opening" quickly instead of scanning forever.
SEARCH_HORIZON_DAYS = 400


class Mode(enum.StrEnum):
    APPOINTMENT = "appointment"
    WALK_IN = "walk_in"


class ClosureKind(enum.StrEnum):
    PUBLIC_HOLIDAY = "public_holiday"
    LOCAL_CLOSURE = "local_closure"


def weekday_number(name: str) -> int:
    """``"fri"`` -> 4 (Monday is 0, as in :meth:`date.weekday`)."""
    try:
        return WEEKDAYS.index(name.strip().lower()[:3])
    except ValueError:
        raise ValueError(
            f"unknown weekday {name!r}; expected one of {', '.join(WEEKDAYS)}"
        ) from None


def nth_of_month(day: date) -> int:
    """Which occurrence of its weekday ``day`` is in its month: 1 for the first Friday..."""
    return (day.day - 1) // 7 + 1


def is_last_of_month(day: date) -> bool:
    return (day + timedelta(days=7)).month != day.month


@dataclass(frozen=True, slots=True)
class Window:
    """A recurring opening of one route, in local wall-clock time.

    ``nth`` restricts the weekdays to their n-th occurrences in the month (``-1`` is the
    last): the MSA's "4th Friday" is ``weekdays={4}, nth={4}``. ``valid_from`` /
    ``valid_until`` bound it to a date range; ``except_dates`` cancels single days.
    """

    mode: Mode
    weekdays: frozenset[int]
    start: time
    end: time
    nth: frozenset[int] = frozenset()
    valid_from: date | None = None
    valid_until: date | None = None
    except_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("a window must end after it starts, on the same day")
        if not self.weekdays or not all(0 <= d <= 6 for d in self.weekdays):
            raise ValueError("a window needs weekdays between 0 (Monday) and 6 (Sunday)")
        if any(n not in (-1, 1, 2, 3, 4, 5) for n in self.nth):
            raise ValueError("nth must be 1 to 5, or -1 for the last of the month")
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError("valid_from is after valid_until")

    def applies_on(self, day: date) -> bool:
        if day.weekday() not in self.weekdays or day in self.except_dates:
            return False
        if self.valid_from and day < self.valid_from:
            return False
        if self.valid_until and day > self.valid_until:
            return False
        if self.nth:
            return nth_of_month(day) in self.nth or (-1 in self.nth and is_last_of_month(day))
        return True


@dataclass(frozen=True, slots=True)
class Closure:
    """A local closure (the host place is shut, the service's staff away), inclusive dates."""

    first_day: date
    last_day: date
    reason: str

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime
    mode: Mode

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


@lru_cache(maxsize=8)
def french_holidays(subdivision: str | None = None) -> holidays_lib.HolidayBase:
    """France's public holidays (Easter Monday, Ascension, Whit Monday included)."""
    return holidays_lib.country_holidays("FR", subdiv=subdivision, language="fr")


@dataclass(frozen=True)
class DayRules:
    """What can close a route for a whole day: the public holidays and its local closures."""

    holidays: holidays_lib.HolidayBase = field(default_factory=french_holidays)
    closures: tuple[Closure, ...] = ()

    def closed_on(self, day: date) -> tuple[ClosureKind, str] | None:
        name = self.holidays.get(day)
        if name:
            return ClosureKind.PUBLIC_HOLIDAY, str(name)
        for closure in self.closures:
            if closure.covers(day):
                return ClosureKind.LOCAL_CLOSURE, closure.reason
        return None


@lru_cache(maxsize=4096)
def _offset_pieces(day: date, tz: ZoneInfo) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """The UTC span of a local day, cut where its UTC offset changes (at most once here).

    Each piece is (first instant, end instant, UTC offset in force), instants in UTC.
    """
    lo = datetime.combine(day, time(0), tz).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    off_lo = lo.astimezone(tz).utcoffset() or timedelta(0)
    off_hi = (hi - timedelta(minutes=1)).astimezone(tz).utcoffset() or timedelta(0)
    if off_lo == off_hi:
        return ((lo, hi, off_lo),)
    a, b = lo, hi  # the change happens on a whole minute between a and b
    while b - a > timedelta(minutes=1):
        mid = (a + (b - a) / 2).replace(second=0, microsecond=0)
        mid = mid if mid > a else a + timedelta(minutes=1)
        if mid.astimezone(tz).utcoffset() == off_lo:
            a = mid
        else:
            b = mid
    return ((lo, b, off_lo), (b, hi, off_hi))


def _wall_spans(day: date, start: time, end: time, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The UTC instants of ``day`` whose local wall-clock time is in [start, end).

    Usually one span; on the autumn night a window touching the repeated hour is open during
    both passes of it, and on the spring night a start inside the missing hour opens at 03:00.
    """
    naive_start = datetime.combine(day, start, UTC)
    naive_end = datetime.combine(day, end, UTC)
    spans: list[tuple[datetime, datetime]] = []
    for lo, hi, offset in _offset_pieces(day, tz):
        a, b = max(lo, naive_start - offset), min(hi, naive_end - offset)
        if a < b:
            if spans and spans[-1][1] >= a:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))
            else:
                spans.append((a, b))
    return spans


def wall_to_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` whose local time is at least ``wall`` (UTC)."""
    naive = datetime.combine(day, wall, UTC)
    return min(max(lo, naive - off) for lo, hi, off in _offset_pieces(day, tz) if naive - off < hi)


def intervals_on(windows: Iterable[Window], day: date, tz: ZoneInfo) -> list[Interval]:
    """The day's open intervals (before holidays and closures), sorted by start."""
    found = [
        Interval(a, b, w.mode)
        for w in windows
        if w.applies_on(day)
        for a, b in _wall_spans(day, w.start, w.end, tz)
    ]
    found.sort(key=lambda i: (i.start, i.end))
    return found


def _days_from(first: date, count: int) -> Iterator[date]:
    for offset in range(count):
        yield first + timedelta(days=offset)


@dataclass(frozen=True)
class Schedule:
    """A route's windows with what closes it, answering "open now?" and "open when?"."""

    windows: tuple[Window, ...]
    rules: DayRules
    tz: ZoneInfo

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def open_intervals_at(self, instant: datetime) -> list[Interval]:
        instant = instant.astimezone(UTC)
        day = self.local_day(instant)
        if self.rules.closed_on(day):
            return []
        return [i for i in intervals_on(self.windows, day, self.tz) if i.contains(instant)]

    def is_open(self, instant: datetime, modes: frozenset[Mode] | None = None) -> bool:
        return any(modes is None or i.mode in modes for i in self.open_intervals_at(instant))

    def next_opening(
        self, after: datetime, modes: frozenset[Mode] | None = None
    ) -> datetime | None:
        """The earliest instant at or after ``after`` when a window of ``modes`` is open."""
        after = after.astimezone(UTC)
        first = self.local_day(after) - timedelta(days=1)  # a DST night can shift the date
        for day in _days_from(first, SEARCH_HORIZON_DAYS):
            if self.rules.closed_on(day):
                continue
            for interval in intervals_on(self.windows, day, self.tz):
                if modes is not None and interval.mode not in modes:
                    continue
                if interval.end > after:
                    return max(interval.start, after)
        return None

    def next_interval_start(self, after: datetime, modes: frozenset[Mode]) -> datetime | None:
        """The next window of ``modes`` that *starts* strictly after ``after``."""
        after = after.astimezone(UTC)
        first = self.local_day(after)
        for day in _days_from(first, SEARCH_HORIZON_DAYS):
            if self.rules.closed_on(day):
                continue
            for interval in intervals_on(self.windows, day, self.tz):
                if interval.mode in modes and interval.start > after:
                    return interval.start
        return None
