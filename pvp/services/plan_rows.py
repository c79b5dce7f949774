"""The plan's tables written row by row: the checks against the database and the writes.

The one writer of those tables. The panel's generic views and its routing page store through
the ``store_*`` functions (with a form's values): each takes the edited row (None for a new
one) and the values by column name, and raises :class:`RowRefused` naming the field at fault.
A plan import (:mod:`pvp.provisioning`) writes through :func:`upsert`, :func:`set_route`,
:func:`replace_windows` and :func:`set_closure`, which say what they changed (None: nothing,
True: created, False: updated) for its report. Auditing and the plan revision are
:mod:`pvp.services.plan`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from pvp.calendar import WEEKDAYS
from pvp.common.errors import PvpError
from pvp.model import (
    Agency,
    Base,
    ClosureDay,
    Counsellor,
    ExpertQueue,
    ExpertStation,
    Kiosk,
    KioskButton,
    OpeningWindow,
    QueueMembership,
    RouteRule,
    Service,
    Site,
)
from pvp.plan import kiosk_id


class RowRefused(PvpError, ValueError, code="bad_field"):
    """A check made against the database, for one field; the message is French."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def new_id(session: Session, model: Any, ident: str) -> None:
    if session.get(model, ident) is not None:
        raise RowRefused("id", f"l'identifiant {ident!r} existe déjà")


def row_or_new(session: Session, model: Any, row: Any, values: Mapping[str, Any]) -> Any:
    """The edited row, or a new one under the values' (unused) id."""
    if row is None:
        new_id(session, model, values["id"])
        row = model(id=values["id"])
        session.add(row)
    return row


def copy_fields(row: Any, values: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = values[name]
        setattr(row, name, value.strip() if isinstance(value, str) else value)


def store_service(session: Session, row: Service | None, values: Mapping[str, Any]) -> Service:
    if row is None:
        if session.get(Service, values["code"]) is not None:
            raise RowRefused("code", f"le service {values['code']!r} existe déjà")
        row = Service(code=values["code"])
        session.add(row)
    copy_fields(row, values, "name", "default_mode")
    return row


def store_site(session: Session, row: Site | None, values: Mapping[str, Any]) -> Site:
    row = row_or_new(session, Site, row, values)
    copy_fields(
        row,
        values,
        "department_code",
        "community",
        "commune",
        "host_place",
        "agent_phone",
        "agent_email",
        "pilot",
    )
    return row


def store_kiosk(session: Session, row: Kiosk | None, values: Mapping[str, Any]) -> Kiosk:
    codes = [c.strip() for c in values["buttons"].split(",") if c.strip()]
    known = set(session.scalars(select(Service.code)))
    for code in codes:
        if code not in known:
            raise RowRefused("buttons", f"service inconnu : {code!r}")
    if len(set(codes)) != len(codes):
        raise RowRefused("buttons", "un service figure deux fois")
    if row is None:
        ident = kiosk_id(values["site_id"], values["number"])
        if session.get(Kiosk, ident) is not None:
            raise RowRefused("number", f"la borne {ident} existe déjà")
        row = Kiosk(id=ident, site_id=values["site_id"], a1_hash="")
        session.add(row)
    if row.service_codes != codes:
        row.buttons.clear()
        session.flush()
        row.buttons.extend(KioskButton(service_code=c, position=i) for i, c in enumerate(codes))
    return row


def store_agency(session: Session, row: Agency | None, values: Mapping[str, Any]) -> Agency:
    if row is not None and row.service_code != values["service_code"] and row.queues:
        raise RowRefused("service_code", "l'agence a des files : changez-les d'abord")
    row = row_or_new(session, Agency, row, values)
    copy_fields(row, values, "service_code", "name", "town", "department_code", "pilot")
    return row


def store_station(
    session: Session, row: ExpertStation | None, values: Mapping[str, Any]
) -> ExpertStation:
    row = row_or_new(session, ExpertStation, row, values)
    copy_fields(row, values, "agency_id", "label")
    return row


def store_queue(
    session: Session, row: ExpertQueue | None, values: Mapping[str, Any]
) -> ExpertQueue:
    agency = session.get(Agency, values["agency_id"])
    assert agency is not None  # a SelectField only admits listed agencies
    if row is not None and row.service_code != agency.service_code:
        raise RowRefused("agency_id", "une file ne change pas de service")
    row = row_or_new(session, ExpertQueue, row, values)
    copy_fields(
        row,
        values,
        "agency_id",
        "name",
        "strategy",
        "max_wait_seconds",
        "no_answer_timeout_seconds",
        "wrap_up_seconds",
    )
    row.service_code = agency.service_code
    return row


def store_counsellor(
    session: Session, row: Counsellor | None, values: Mapping[str, Any]
) -> Counsellor:
    station = values["station_id"] or None
    if station is not None:
        found = session.get(ExpertStation, station)
        if found is None or found.agency_id != values["agency_id"]:
            raise RowRefused("station_id", "ce poste n'appartient pas à l'agence choisie")
    if row is None:
        new_id(session, Counsellor, values["id"])
        if session.get(Kiosk, values["id"]) is not None:
            raise RowRefused("id", "une borne porte déjà ce compte SIP")
        row = Counsellor(id=values["id"], a1_hash="")  # its secret: issued on saving
        session.add(row)
    copy_fields(row, values, "display_name", "agency_id")
    row.station_id = station
    return row


def store_membership(
    session: Session, row: QueueMembership | None, values: Mapping[str, Any]
) -> QueueMembership:
    counsellor = session.get(Counsellor, values["counsellor_id"])
    queue = session.get(ExpertQueue, values["queue_id"])
    assert counsellor is not None and queue is not None
    if counsellor.agency.service_code != queue.service_code:
        raise RowRefused("queue_id", "cette file appartient à un autre service")
    if row is None:
        key = (counsellor.id, queue.id)
        if session.get(QueueMembership, key) is not None:
            raise RowRefused("queue_id", "le conseiller est déjà membre de cette file")
        row = QueueMembership(counsellor_id=counsellor.id, queue_id=queue.id)
        session.add(row)
    row.priority = values["priority"]
    return row


def store_route(session: Session, row: RouteRule | None, values: Mapping[str, Any]) -> RouteRule:
    site, service = values["site_id"], values["service_code"]
    queue = session.get(ExpertQueue, values["queue_id"])
    assert queue is not None
    if queue.service_code != service:
        raise RowRefused("queue_id", "cette file appartient à un autre service")
    buttons = session.scalars(
        select(KioskButton)
        .join(Kiosk)
        .where(Kiosk.site_id == site, KioskButton.service_code == service)
    ).first()
    if buttons is None:
        raise RowRefused("service_code", "aucune borne du site n'a de bouton pour ce service")
    clash = session.scalars(
        select(RouteRule).where(RouteRule.site_id == site, RouteRule.service_code == service)
    ).first()
    if clash is not None and clash is not row:
        raise RowRefused("service_code", "ce service a déjà une règle sur ce site")
    if row is None:
        row = RouteRule()
        session.add(row)
    # An edit may move the rule to another site or service (its windows follow it).
    row.site_id, row.service_code, row.queue_id = site, service, queue.id
    return row


def store_window(
    session: Session, row: OpeningWindow | None, values: Mapping[str, Any]
) -> OpeningWindow:
    if row is None:
        row = OpeningWindow()
        session.add(row)
    row.route_id = values["route_id"]
    row.mode = values["mode"]
    row.weekdays = ",".join(d for d in WEEKDAYS if d in values["weekdays"])
    row.nth = ",".join(re.sub(r"\s+", "", values["nth"] or "").split(",")).strip(",")
    row.start_time, row.end_time = values["start_time"], values["end_time"]
    row.valid_from, row.valid_until = values["valid_from"], values["valid_until"]
    dates = sorted(
        {date.fromisoformat(t.strip()) for t in values["except_dates"].split(",") if t.strip()}
    )
    row.except_dates = ",".join(d.isoformat() for d in dates)
    row.note = values["note"].strip()
    return row


def store_closure(
    session: Session, row: ClosureDay | None, values: Mapping[str, Any]
) -> ClosureDay:
    if row is None:
        row = ClosureDay()
        session.add(row)
    row.site_id = values["site_id"] or None
    row.service_code = values["service_code"] or None
    copy_fields(row, values, "first_day", "last_day", "reason")
    return row


Change = bool | None  # True: created, False: updated, None: already so


def upsert(session: Session, model: type[Base], key: Any, values: Mapping[str, Any]) -> Change:
    """Make the row of ``model`` under primary ``key`` hold ``values``."""
    row = session.get(model, key)
    if row is None:
        pk_names = [str(c.key) for c in inspect(model).primary_key]
        keys = key if isinstance(key, tuple) else (key,)
        session.add(model(**dict(zip(pk_names, keys, strict=True)), **values))
        return True
    if all(getattr(row, k) == v for k, v in values.items()):
        return None
    for k, v in values.items():
        setattr(row, k, v)
    return False


def set_route(session: Session, site: str, service: str, queue: str) -> tuple[RouteRule, Change]:
    """The rule routing ``service`` at ``site``, pointed at ``queue``."""
    route = session.scalars(
        select(RouteRule).where(RouteRule.site_id == site, RouteRule.service_code == service)
    ).first()
    if route is None:
        route = RouteRule(site_id=site, service_code=service, queue_id=queue)
        session.add(route)
        return route, True
    if route.queue_id == queue:
        return route, None
    route.queue_id = queue
    return route, False


def replace_windows(session: Session, route: RouteRule, wanted: list[dict[str, Any]]) -> Change:
    """Give ``route`` exactly the windows ``wanted`` (column values each)."""
    current = [{k: getattr(w, k) for k in wanted[0]} for w in route.windows] if wanted else None
    if current == wanted or (not wanted and not route.windows):
        return None
    created = not route.windows
    route.windows.clear()
    session.flush()
    for fields in wanted:
        route.windows.append(OpeningWindow(**fields))
    return created


def set_closure(session: Session, values: Mapping[str, Any]) -> Change:
    """A closure of a site and service (None: all) over days, matched by those; its reason set."""
    exists = session.scalars(
        select(ClosureDay).where(
            ClosureDay.site_id == values["site_id"],
            ClosureDay.service_code == values["service_code"],
            ClosureDay.first_day == values["first_day"],
            ClosureDay.last_day == values["last_day"],
        )
    ).first()
    if exists is None:
        session.add(ClosureDay(**values))
        return True
    if exists.reason == values["reason"]:
        return None
    exists.reason = values["reason"]
    return False
