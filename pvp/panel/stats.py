"""The evaluation's figures from the call records, aggregated in SQL.

Per site, service and month (any subset of the three, over a year):

- ``calls``: presses of a service button; ``served``, ``abandoned``: their outcomes;
- ``closed``: presses that placed no call because the service was closed or took
  appointments only (decision ``closed`` / ``appointment_required``, or outcome ``closed``);
- ``median_wait`` / ``p90_wait``: over served calls, nearest-rank percentiles (the value of
  rank ⌈p·n⌉ in ascending order); ``median_talk`` likewise;
- ``appointment_calls`` / ``walk_in_calls``: served calls by mode (their share is the
  appointment vs walk-in impact);
- ``no_shows`` / ``past_appointments``: appointments that took place or should have
  (not cancelled, started before now), by the month of their start;
- ``documents``: documents exchanged; 0 until the documents feature records them
  (see :data:`DOCUMENT_COUNTER`).

Months are those of the UTC instant of the press: kiosks open in the day, so it never differs
from the Paris month in practice. Counting and grouping happen in SQL in one pass; see
:func:`_finest` for the percentiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, select
from sqlalchemy.orm import Session

from pvp.model import Appointment, AppointmentStatus, CallRecord

Key = tuple[str | None, str | None, str | None]  # (site, service, month)
DIMENSIONS = ("site", "service", "month")
CLOSED_DECISIONS = ("closed", "appointment_required")


@dataclass
class Figures:
    site: str | None = None
    service: str | None = None
    month: str | None = None
    calls: int = 0
    served: int = 0
    abandoned: int = 0
    closed: int = 0
    median_wait: float | None = None
    p90_wait: float | None = None
    median_talk: float | None = None
    appointment_calls: int = 0
    walk_in_calls: int = 0
    past_appointments: int = 0
    no_shows: int = 0
    documents: int = 0

    @property
    def appointment_share(self) -> float | None:
        total = self.appointment_calls + self.walk_in_calls
        return self.appointment_calls / total if total else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.past_appointments if self.past_appointments else None

    @property
    def key(self) -> Key:
        return (self.site, self.service, self.month)


# The documents feature registers a function here: (session, dims, filters) -> {key: count}.
DOCUMENT_COUNTER: list[Callable[..., dict[Key, int]]] = []


@dataclass(frozen=True)
class Filters:
    year: int
    site: str | None = None
    service: str | None = None


def _month(session: Session, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")


def _dims(
    session: Session, dims: Sequence[str], site: Any, service: Any, instant: Any
) -> list[ColumnElement[Any]]:
    columns = {"site": site, "service": service, "month": _month(session, instant)}
    return [columns[d].label(d) for d in dims]


def _where(f: Filters, site: Any, service: Any, instant: Any) -> list[ColumnElement[bool]]:
    start = datetime(f.year, 1, 1, tzinfo=UTC)
    end = datetime(f.year + 1, 1, 1, tzinfo=UTC)
    where = [instant >= start, instant < end]
    if f.site:
        where.append(site == f.site)
    if f.service:
        where.append(service == f.service)
    return where


def _count(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _values(session: Session, column: Any, cond: ColumnElement[bool]) -> Any:
    """The group's values of ``column`` where ``cond`` holds, as one comma-separated text."""
    value = case((cond, column))
    if session.get_bind().dialect.name == "sqlite":
        return func.group_concat(value, ",")
    return func.string_agg(func.cast(value, String), ",")


def _parse(text: str | None) -> list[float]:
    return [float(v) for v in text.split(",")] if text else []


def nearest_rank(values: list[float], num: int, den: int) -> float | None:
    """The value of rank ⌈num/den · n⌉ of the sorted ``values`` (None when empty)."""
    if not values:
        return None
    rank = -(-num * len(values) // den)  # ceiling in integers: no float rounding at the edge
    return values[max(rank, 1) - 1]


@dataclass
class _Group:
    counts: dict[str, int] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)
    talks: list[float] = field(default_factory=list)


COUNTS = (
    "calls",
    "served",
    "abandoned",
    "closed",
    "appointment_calls",
    "walk_in_calls",
    "past_appointments",
    "no_shows",
)


def _finest(session: Session, f: Filters, now: datetime) -> dict[Key, _Group]:
    """One pass over the year's call records, grouped by site, service and month.

    SQLite has no percentile function, and window-function percentiles cost one sort of the
    records per level shown (measured 3x slower at 100,000 records): each group's served
    waits and talk times come back as one text column instead, and the percentiles are
    taken from them — merged for the coarser levels — in :func:`evaluate`.
    """
    cr = CallRecord
    keys = _dims(session, DIMENSIONS, cr.site_id, cr.service_code, cr.pressed_at)
    served = cr.outcome == "served"
    closed = (cr.decision.in_(CLOSED_DECISIONS)) | (cr.outcome == "closed")
    query = (
        select(
            *keys,
            func.count().label("calls"),
            _count(served).label("served"),
            _count(cr.outcome == "abandoned").label("abandoned"),
            _count(closed).label("closed"),
            _count(and_(served, cr.mode == "appointment")).label("appointment_calls"),
            _count(and_(served, cr.mode == "walk_in")).label("walk_in_calls"),
            _values(session, cr.wait_seconds, served).label("waits"),
            _values(session, cr.talk_seconds, served).label("talks"),
        )
        .where(*_where(f, cr.site_id, cr.service_code, cr.pressed_at))
        .group_by(*keys)
    )
    groups: dict[Key, _Group] = {}
    for row in session.execute(query).mappings():
        key = (row["site"], row["service"], row["month"])
        groups[key] = _Group(
            {k: row[k] for k in COUNTS[:6]}, _parse(row["waits"]), _parse(row["talks"])
        )
    ap = Appointment
    akeys = _dims(session, DIMENSIONS, ap.site_id, ap.service_code, ap.start)
    aquery = (
        select(
            *akeys,
            func.count().label("past_appointments"),
            _count(ap.status == AppointmentStatus.NO_SHOW.value).label("no_shows"),
        )
        .where(
            *_where(f, ap.site_id, ap.service_code, ap.start),
            ap.status != AppointmentStatus.CANCELLED.value,
            ap.start < now,
        )
        .group_by(*akeys)
    )
    for row in session.execute(aquery).mappings():
        group = groups.setdefault((row["site"], row["service"], row["month"]), _Group())
        group.counts["past_appointments"] = row["past_appointments"]
        group.counts["no_shows"] = row["no_shows"]
    return groups


def evaluate(
    session: Session, f: Filters, levels: Sequence[Sequence[str]], now: datetime | None = None
) -> dict[tuple[str, ...], list[Figures]]:
    """The figures at each level (a subset of site, service, month), from one pass."""
    for dims in levels:
        if any(d not in DIMENSIONS for d in dims):
            raise ValueError(f"unknown dimension in {dims!r}")
    groups = _finest(session, f, now or datetime.now(UTC))
    documents: list[dict[Key, int]] = [c(session, DIMENSIONS, f) for c in DOCUMENT_COUNTER]
    out: dict[tuple[str, ...], list[Figures]] = {}
    for dims in levels:
        merged: dict[Key, _Group] = {}
        docs: dict[Key, int] = {}

        def project(key: Key, dims: Sequence[str] = dims) -> Key:
            site, service, month = key
            return (
                site if "site" in dims else None,
                service if "service" in dims else None,
                month if "month" in dims else None,
            )

        for key, group in groups.items():
            target = merged.setdefault(project(key), _Group())
            for name, value in group.counts.items():
                target.counts[name] = target.counts.get(name, 0) + value
            target.waits += group.waits
            target.talks += group.talks
        for counted in documents:
            for key, n in counted.items():
                docs[project(key)] = docs.get(project(key), 0) + n
        if not dims and not merged:
            merged[(None, None, None)] = _Group()
        rows = []
        for key in sorted(merged, key=lambda k: tuple(x or "" for x in k)):
            group = merged[key]
            group.waits.sort()
            group.talks.sort()
            figures = Figures(
                *key,
                median_wait=nearest_rank(group.waits, 1, 2),
                p90_wait=nearest_rank(group.waits, 9, 10),
                median_talk=nearest_rank(group.talks, 1, 2),
                documents=docs.get(key, 0),
            )
            for name in COUNTS:
                setattr(figures, name, group.counts.get(name, 0))
            rows.append(figures)
        out[tuple(dims)] = rows
    return out


def aggregate(
    session: Session, dims: Sequence[str], f: Filters, now: datetime | None = None
) -> list[Figures]:
    """The figures grouped by ``dims`` (a subset of site, service, month), sorted by key."""
    return evaluate(session, f, [dims], now)[tuple(dims)]


def total(session: Session, f: Filters, now: datetime | None = None) -> Figures:
    rows = aggregate(session, (), f, now)
    return rows[0] if rows else Figures()


__all__ = ["DOCUMENT_COUNTER", "Figures", "Filters", "aggregate", "evaluate", "total"]
