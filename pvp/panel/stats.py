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
from the Paris month in practice. Percentiles use window functions (SQLite 3.25+, PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
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
    extra: dict[str, Any] = field(default_factory=dict)

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


def _dims(session: Session, dims: Sequence[str], site: Any, service: Any, instant: Any
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


def _key(row: Any, dims: Sequence[str]) -> Key:
    values = dict(zip(dims, row[: len(dims)], strict=True))
    return (values.get("site"), values.get("service"), values.get("month"))


def _percentiles(session: Session, dims: Sequence[str], f: Filters, value: Any,
                 ranks: dict[str, tuple[int, int]]) -> dict[Key, dict[str, float | None]]:
    """Nearest-rank percentiles of ``value`` over served calls, per group.

    ``ranks`` maps a name to p as a fraction (num, den); the rank test stays in integers.
    """
    cr = CallRecord
    keys = _dims(session, dims, cr.site_id, cr.service_code, cr.pressed_at)
    partition = keys or None
    inner = (
        select(
            *keys,
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*_where(f, cr.site_id, cr.service_code, cr.pressed_at),
               cr.outcome == "served", value.is_not(None))
        .subquery()
    )
    outer_keys = [inner.c[d] for d in dims]
    picks = [
        func.min(case((inner.c.rn * den >= inner.c.n * num, inner.c.v))).label(name)
        for name, (num, den) in ranks.items()
    ]
    query = select(*outer_keys, *picks)
    if outer_keys:
        query = query.group_by(*outer_keys)
    out = {}
    for row in session.execute(query):
        out[_key(row, dims)] = {name: row[len(dims) + i] for i, name in enumerate(ranks)}
    return out


def aggregate(session: Session, dims: Sequence[str], f: Filters,
              now: datetime | None = None) -> list[Figures]:
    """The figures grouped by ``dims`` (a subset of site, service, month), sorted by key."""
    if any(d not in DIMENSIONS for d in dims):
        raise ValueError(f"unknown dimension in {dims!r}")
    now = now or datetime.now(UTC)
    cr = CallRecord
    keys = _dims(session, dims, cr.site_id, cr.service_code, cr.pressed_at)
    served = cr.outcome == "served"
    closed = (cr.decision.in_(CLOSED_DECISIONS)) | (cr.outcome == "closed")
    query = select(
        *keys,
        func.count().label("calls"),
        _count(served).label("served"),
        _count(cr.outcome == "abandoned").label("abandoned"),
        _count(closed).label("closed"),
        _count(and_(served, cr.mode == "appointment")).label("appointment_calls"),
        _count(and_(served, cr.mode == "walk_in")).label("walk_in_calls"),
    ).where(*_where(f, cr.site_id, cr.service_code, cr.pressed_at))
    if keys:
        query = query.group_by(*keys)
    table: dict[Key, Figures] = {}
    for row in session.execute(query):
        key = _key(row, dims)
        table[key] = Figures(*key, **{k: row._mapping[k] for k in (
            "calls", "served", "abandoned", "closed", "appointment_calls", "walk_in_calls")})

    def figures(key: Key) -> Figures:
        if key not in table:
            table[key] = Figures(*key)
        return table[key]

    for key, values in _percentiles(session, dims, f, cr.wait_seconds,
                                    {"median_wait": (1, 2), "p90_wait": (9, 10)}).items():
        figures(key).median_wait = values["median_wait"]
        figures(key).p90_wait = values["p90_wait"]
    for key, values in _percentiles(session, dims, f, cr.talk_seconds,
                                    {"median_talk": (1, 2)}).items():
        figures(key).median_talk = values["median_talk"]

    ap = Appointment
    akeys = _dims(session, dims, ap.site_id, ap.service_code, ap.start)
    aquery = select(
        *akeys,
        func.count().label("past"),
        _count(ap.status == AppointmentStatus.NO_SHOW.value).label("no_shows"),
    ).where(*_where(f, ap.site_id, ap.service_code, ap.start),
            ap.status != AppointmentStatus.CANCELLED.value, ap.start < now)
    if akeys:
        aquery = aquery.group_by(*akeys)
    for row in session.execute(aquery):
        fig = figures(_key(row, dims))
        fig.past_appointments, fig.no_shows = row._mapping["past"], row._mapping["no_shows"]

    for counter in DOCUMENT_COUNTER:
        for key, count in counter(session, dims, f).items():
            figures(key).documents += count
    return [table[k] for k in sorted(table, key=lambda k: tuple(x or "" for x in k))]


def total(session: Session, f: Filters, now: datetime | None = None) -> Figures:
    rows = aggregate(session, (), f, now)
    return rows[0] if rows else Figures()


__all__ = ["DOCUMENT_COUNTER", "Figures", "Filters", "aggregate", "total"]
