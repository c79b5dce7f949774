"""The manager's appointment list: its filters (a GET form) and the rows they select."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from pvp.model import Agency, Appointment, AppointmentStatus, Counsellor, RouteRule, Service, Site
from pvp.panel.forms import PanelForm, opts
from pvp.routing import ACTIVE_APPOINTMENT

# The list's default span around today, when the filter leaves it open.
DAYS_BEFORE, DAYS_AFTER = 14, 120

SORTS = {
    "date": (Appointment.start,),
    "site": (Site.commune, Appointment.start),
    "counsellor": (Counsellor.display_name, Appointment.start),
}


class ListFilter(PanelForm):
    """The appointment list's filters (a GET form: the address can be kept and shared)."""

    class Meta(PanelForm.Meta):
        csrf = False

    service = SelectField("Service")
    site = SelectField("Site")
    counsellor = SelectField("Conseiller")
    status = SelectField(
        "État",
        choices=opts(
            [("active", "à venir ou en cours"), ("all", "tous"), ("cancelled", "annulés")]
        ),
        default="active",
    )
    first = DateField("Du", validators=[Optional()])
    last = DateField("Au", validators=[Optional()])
    sort = SelectField(
        "Trier par",
        choices=opts([("date", "date"), ("site", "site"), ("counsellor", "conseiller")]),
        default="date",
    )


def filters(session: Session, service: str) -> ListFilter:
    form = ListFilter(request.args)
    form.service.choices = opts(
        (s.code, s.name) for s in session.scalars(select(Service).order_by(Service.code))
    )
    form.site.choices = opts([("", "tous")]) + opts(
        (s.id, s.commune)
        for s in session.scalars(
            select(Site)
            .join(RouteRule, RouteRule.site_id == Site.id)
            .where(RouteRule.service_code == service)
            .order_by(Site.commune)
        )
    )
    form.counsellor.choices = opts([("", "tous")]) + opts(
        (c.id, c.display_name)
        for c in session.scalars(
            select(Counsellor)
            .join(Agency)
            .where(Agency.service_code == service)
            .order_by(Counsellor.display_name)
        )
    )
    form.service.data = service
    if not form.validate():
        # A stale or hand-made address: show the defaults rather than an error page.
        for field in (form.site, form.counsellor, form.status, form.sort):
            if field.errors:
                field.data = field.default or ""
    return form


def rows(
    session: Session, service: str, wanted: ListFilter, today: date, tz: ZoneInfo
) -> Sequence[Appointment]:
    first = wanted.first.data or today - timedelta(days=DAYS_BEFORE)
    last = wanted.last.data or today + timedelta(days=DAYS_AFTER)
    where = [
        Appointment.service_code == service,
        Appointment.start >= datetime.combine(first, time(0), tz),
        Appointment.start < datetime.combine(last + timedelta(days=1), time(0), tz),
    ]
    if wanted.site.data:
        where.append(Appointment.site_id == wanted.site.data)
    if wanted.counsellor.data:
        where.append(Appointment.counsellor_id == wanted.counsellor.data)
    if wanted.status.data == "active":
        where.append(Appointment.status.in_(ACTIVE_APPOINTMENT))
    elif wanted.status.data == "cancelled":
        where.append(Appointment.status == AppointmentStatus.CANCELLED.value)
    return session.scalars(
        select(Appointment)
        .join(Site, Site.id == Appointment.site_id)
        .join(Counsellor, Counsellor.id == Appointment.counsellor_id)
        .where(*where)
        .order_by(*SORTS.get(wanted.sort.data or "date", SORTS["date"]))
    ).all()
