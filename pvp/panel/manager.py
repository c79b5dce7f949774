"""The service manager's area: their service's counsellors, windows and appointments.

Booking rules are :mod:`pvp.appointments`' (inside the appointment windows, no overlap, no
closed day); a refusal is shown with its reason and writes nothing. The region admin uses the
same pages for any service.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange

from pvp.appointments import MAX_MINUTES, MIN_MINUTES, serving_agencies
from pvp.clock import Clock
from pvp.model import (
    Agency,
    Appointment,
    AppointmentStatus,
    Counsellor,
    CounsellorFeed,
    ExpertQueue,
    Role,
    RouteRule,
    Service,
    Site,
)
from pvp.panel import appointment_list
from pvp.panel.crud import register_crud
from pvp.panel.entities import MANAGER_ENTITIES
from pvp.panel.forms import PanelForm, opts
from pvp.panel.french import fr_datetime
from pvp.panel.once import show_once
from pvp.panel.security import db, me, panel_blueprint, require, service_scope, settings
from pvp.plan_view import load_routing_plan
from pvp.services import appointments, calendar_feeds

bp = panel_blueprint("manager", "/manager", roles=(Role.REGION_ADMIN, Role.SERVICE_MANAGER))
register_crud(bp, MANAGER_ENTITIES, service_scope)

MINUTES = [
    InputRequired(message="durée invalide"),
    NumberRange(
        MIN_MINUTES,
        MAX_MINUTES,
        message=f"entre {MIN_MINUTES} et {MAX_MINUTES} minutes",
    ),
]
WHEN = [InputRequired(message="date et heure obligatoires")]


class BookForm(PanelForm):
    site = SelectField("Site")
    counsellor = SelectField("Conseiller")
    start = DateTimeLocalField("Début", format="%Y-%m-%dT%H:%M", validators=WHEN)
    minutes = IntegerField("Durée (minutes)", default=30, validators=MINUTES)
    citizen_ref = StringField("Référence de l'usager", validators=[Length(max=64)])


class MoveForm(PanelForm):
    start = DateTimeLocalField("Nouveau début", format="%Y-%m-%dT%H:%M", validators=WHEN)
    minutes = IntegerField("Durée (minutes)", validators=MINUTES)


def _tz() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


def _service(session: Session) -> str:
    """The manager's service; the region admin picks one with ``?service=``."""
    scope = service_scope()
    if scope is not None:
        return scope
    code = request.values.get("service") or "anpe"
    if session.get(Service, code) is None:
        abort(404)
    return code


def _fill_booking(session: Session, form: BookForm, service: str) -> None:
    """Sites offering the service; its counsellors, each marked with the sites their agency
    serves (the page's script shows only those of the chosen site; the booking checks it)."""
    sites = session.scalars(
        select(Site)
        .join(RouteRule, RouteRule.site_id == Site.id)
        .where(RouteRule.service_code == service)
        .order_by(Site.commune)
    ).all()
    form.site.choices = opts((s.id, s.commune) for s in sites)
    serving = {s.id: serving_agencies(session, s.id, service) for s in sites}
    people = session.scalars(
        select(Counsellor)
        .join(Agency)
        .where(Agency.service_code == service)
        .order_by(Counsellor.display_name)
    )
    form.counsellor.choices = [
        SelectChoice(
            c.id,
            f"{c.display_name} ({c.agency.name})",
            render_kw={"data-sites": " ".join(s for s, a in serving.items() if c.agency_id in a)},
        )
        for c in people
    ]


def _now() -> datetime:
    clock: Clock = current_app.extensions["pvp.clock"]
    return clock.now()


def _appointment(session: Session, appointment_id: int) -> Appointment:
    row = session.get(Appointment, appointment_id)
    if row is None:
        abort(404)
    scope = service_scope()
    require(scope is None or row.service_code == scope)
    return row


def _service_name(session: Session, code: str) -> str:
    row = session.get(Service, code)
    return row.name if row is not None else code.upper()


def _page(session: Session, service: str, form: BookForm, status: int = 200) -> Any:
    now = _now()
    tz = _tz()
    wanted = appointment_list.filters(session, service)
    rows = appointment_list.rows(session, service, wanted, now.astimezone(tz).date(), tz)
    people = session.scalars(
        select(Counsellor)
        .join(Agency)
        .where(Agency.service_code == service)
        .order_by(Counsellor.display_name)
    ).all()
    feeds = {f.counsellor_id for f in session.scalars(select(CounsellorFeed))}
    routes = session.scalars(
        select(RouteRule)
        .join(Site, Site.id == RouteRule.site_id)
        .where(RouteRule.service_code == service)
        .order_by(Site.commune)
    ).all()
    names = {c.id: c.display_name for c in session.scalars(select(Counsellor))}
    sites = {s.id: s.commune for s in session.scalars(select(Site))}
    queues = {q.id: q.name for q in session.scalars(select(ExpertQueue))}
    undo = session.get(Appointment, request.args.get("cancelled", type=int) or 0)
    if undo is not None and (
        undo.service_code != service or undo.status != AppointmentStatus.CANCELLED.value
    ):
        undo = None
    return render_template(
        "manager/index.html",
        service=service,
        service_name=_service_name(session, service),
        form=form,
        wanted=wanted,
        rows=rows,
        people=people,
        feeds=feeds,
        routes=routes,
        names=names,
        sites=sites,
        queues=queues,
        now=now,
        undo=undo,
        admin=service_scope() is None,
    ), status


@bp.get("/")
def index() -> Any:
    with db().sessions() as session:
        service = _service(session)
        form = BookForm(formdata=None)
        _fill_booking(session, form, service)
        return _page(session, service, form)


@bp.post("/appointments")
def book() -> Any:
    tz = _tz()
    with db().sessions() as session:
        service = _service(session)
        form = BookForm()
        _fill_booking(session, form, service)
        if not form.validate():
            return _page(session, service, form, 400)
        start = form.start.data.replace(tzinfo=tz)
        plan = load_routing_plan(session, settings(), since=start - timedelta(days=1))
        try:
            booking = appointments.Booking(
                form.site.data,
                service,
                form.counsellor.data,
                start,
                form.minutes.data,
                (form.citizen_ref.data or "").strip(),
            )
            made = appointments.book(session, plan, booking, actor=me().login, now=_now())
        except appointments.BookingRefused as exc:
            session.rollback()
            form.fail(form.start, f"rendez-vous refusé : {exc}")
            return _page(session, service, form, 400)
        session.commit()
        flash(f"Rendez-vous n°{made.id} réservé.", "success")
    return redirect(url_for("manager.index", service=service), 303)


@bp.route("/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
def move(appointment_id: int) -> Any:
    tz = _tz()
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        form = MoveForm(
            data={"start": row.start.astimezone(tz).replace(tzinfo=None), "minutes": row.minutes}
        )
        if form.validate_on_submit():
            start = form.start.data.replace(tzinfo=tz)
            plan = load_routing_plan(session, settings(), since=start - timedelta(days=1))
            try:
                # In place: the citizen keeps their number, the old slot frees itself.
                appointments.move(
                    session, plan, row.id, start, form.minutes.data, actor=me().login, now=_now()
                )
            except appointments.BookingRefused as exc:
                session.rollback()
                form.fail(form.start, f"déplacement refusé : {exc}")
            else:
                session.commit()
                flash(f"Rendez-vous n°{row.id} déplacé au {fr_datetime(row.start, tz)}.", "success")
                return redirect(url_for("manager.index", service=row.service_code), 303)
        status = 400 if form.errors else 200
        return render_template(
            "manager/move.html", form=form, appointment=row, names=_names(session, row)
        ), status


def _names(session: Session, row: Appointment) -> dict[str, str]:
    site = session.get(Site, row.site_id)
    person = session.get(Counsellor, row.counsellor_id)
    return {
        "site": site.commune if site else row.site_id,
        "counsellor": person.display_name if person else row.counsellor_id,
    }


@bp.get("/appointments/<int:appointment_id>/cancel")
def confirm_cancel(appointment_id: int) -> Any:
    """Cancelling asks first: one stray click must not drop a citizen's appointment."""
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        return render_template("manager/cancel.html", appointment=row, names=_names(session, row))


@bp.post("/appointments/<int:appointment_id>/restore")
def restore(appointment_id: int) -> Any:
    """Undo a cancellation, if the slot is still free."""
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        plan = load_routing_plan(session, settings(), since=row.start - timedelta(days=1))
        try:
            appointments.restore(session, plan, row.id, actor=me().login, now=_now())
        except appointments.BookingRefused as exc:
            session.rollback()
            flash(f"Rendez-vous n°{row.id} non rétabli : {exc}.", "error")
        else:
            session.commit()
            flash(f"Rendez-vous n°{row.id} rétabli.", "success")
        return redirect(url_for("manager.index", service=row.service_code), 303)


@bp.post("/appointments/<int:appointment_id>/<any(cancel, no_show):action>")
def change_status(appointment_id: int, action: str) -> Any:
    status = AppointmentStatus.CANCELLED if action == "cancel" else AppointmentStatus.NO_SHOW
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        service = row.service_code
        if status is AppointmentStatus.NO_SHOW and row.start > _now():
            flash(
                f"Rendez-vous n°{row.id} : il n'a pas encore eu lieu, l'absence ne peut "
                "être notée.",
                "error",
            )
            return redirect(url_for("manager.index", service=service), 303)
        try:
            appointments.set_status(session, row.id, status, actor=me().login)
        except appointments.BookingRefused as exc:
            session.rollback()
            flash(f"Rendez-vous n°{row.id} : {exc}.", "error")
            return redirect(url_for("manager.index", service=service), 303)
        session.commit()
        if action == "cancel":
            # The list offers to undo it (the row is kept, cancelled).
            flash(f"Rendez-vous n°{row.id} annulé.", "success")
            return redirect(url_for("manager.index", service=service, cancelled=row.id), 303)
        flash(f"Rendez-vous n°{row.id} noté absent.", "success")
    return redirect(url_for("manager.index", service=service), 303)


@bp.post("/feeds/<counsellor_id>")
def new_feed(counsellor_id: str) -> Any:
    """Give a counsellor's calendar feed a new secret link (the old one stops working)."""
    with db().sessions() as session:
        person = session.get(Counsellor, counsellor_id)
        if person is None:
            abort(404)
        scope = service_scope()
        require(scope is None or person.agency.service_code == scope)
        token = calendar_feeds.new_link_token(session, counsellor_id, actor=me().login)
        session.commit()
        service = person.agency.service_code
    link = url_for("feeds.ics", counsellor_id=counsellor_id, token=token, _external=True)
    return show_once(
        f"Lien d'agenda de {counsellor_id}",
        "Lien secret de l'agenda (ICS)",
        link,
        url_for("manager.index", service=service),
        "Seule son empreinte est conservée : un lien perdu se remplace par un nouveau.",
    )
