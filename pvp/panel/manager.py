"""The service manager's area: their service's counsellors, windows and appointments.

Booking rules are :mod:`pvp.appointments`' (inside the appointment windows, no overlap, no
closed day); a refusal is shown with its reason and writes nothing. The region admin uses the
same pages for any service.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from pvp import appointments, convocations
from pvp.model import (
    Agency,
    Appointment,
    AppointmentStatus,
    Counsellor,
    CounsellorFeed,
    Role,
    RouteRule,
    Service,
    Site,
)
from pvp.panel import audit
from pvp.panel.crud import register_crud
from pvp.panel.entities import MANAGER_ENTITIES
from pvp.panel.feeds import feed_digest
from pvp.panel.forms import PanelForm, opts
from pvp.panel.once import show_once
from pvp.panel.security import db, me, panel_blueprint, require, service_scope, settings
from pvp.plan_view import load_routing_plan

bp = panel_blueprint("manager", "/manager", roles=(Role.REGION_ADMIN, Role.SERVICE_MANAGER))
register_crud(bp, MANAGER_ENTITIES, service_scope)

MINUTES = [
    InputRequired(message="durée invalide"),
    NumberRange(
        appointments.MIN_MINUTES,
        appointments.MAX_MINUTES,
        message=f"entre {appointments.MIN_MINUTES} et {appointments.MAX_MINUTES} minutes",
    ),
]
WHEN = [InputRequired(message="date et heure invalides (AAAA-MM-JJ HH:MM)")]


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
    sites = session.scalars(
        select(Site)
        .join(RouteRule, RouteRule.site_id == Site.id)
        .where(RouteRule.service_code == service)
        .order_by(Site.commune)
    )
    form.site.choices = opts((s.id, s.commune) for s in sites)
    people = session.scalars(
        select(Counsellor)
        .join(Agency)
        .where(Agency.service_code == service)
        .order_by(Counsellor.display_name)
    )
    form.counsellor.choices = opts((c.id, c.display_name) for c in people)


def _appointment(session: Session, appointment_id: int) -> Appointment:
    row = session.get(Appointment, appointment_id)
    if row is None:
        abort(404)
    scope = service_scope()
    require(scope is None or row.service_code == scope)
    return row


def _page(session: Session, service: str, form: BookForm, status: int = 200) -> Any:
    now = datetime.now(UTC)
    rows = session.scalars(
        select(Appointment)
        .where(
            Appointment.service_code == service,
            Appointment.start >= now - timedelta(days=14),
            Appointment.start <= now + timedelta(days=120),
        )
        .order_by(Appointment.start)
    ).all()
    people = session.scalars(
        select(Counsellor)
        .join(Agency)
        .where(Agency.service_code == service)
        .order_by(Counsellor.id)
    ).all()
    feeds = {f.counsellor_id for f in session.scalars(select(CounsellorFeed))}
    routes = session.scalars(
        select(RouteRule).where(RouteRule.service_code == service).order_by(RouteRule.site_id)
    ).all()
    services = session.scalars(select(Service).order_by(Service.code)).all()
    names = {c.id: c.display_name for c in people}
    return render_template(
        "manager/index.html",
        service=service,
        services=services,
        form=form,
        rows=rows,
        people=people,
        feeds=feeds,
        routes=routes,
        names=names,
        now=now,
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
            made = appointments.book(
                session,
                plan,
                form.site.data,
                service,
                form.counsellor.data,
                start,
                form.minutes.data,
                (form.citizen_ref.data or "").strip(),
            )
        except appointments.BookingRefused as exc:
            session.rollback()
            form.fail(form.start, f"rendez-vous refusé : {exc}")
            return _page(session, service, form, 400)
        audit.record(
            session, me().login, "book", "appointments", made.id, None, audit.snapshot(made)
        )
        session.commit()
        flash(f"Rendez-vous n°{made.id} réservé.", "success")
    return redirect(url_for("manager.index", service=service), 303)


@bp.route("/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
def move(appointment_id: int) -> Any:
    tz = _tz()
    with db().sessions() as session:
        old = _appointment(session, appointment_id)
        form = MoveForm(
            data={"start": old.start.astimezone(tz).replace(tzinfo=None), "minutes": old.minutes}
        )
        if form.validate_on_submit():
            before = audit.snapshot(old)
            start = form.start.data.replace(tzinfo=tz)
            try:
                # A move is a cancel and a new booking in one transaction: the old slot is
                # free for the new one, and a refusal leaves both as they were.
                appointments.set_status(session, old.id, AppointmentStatus.CANCELLED)
                session.flush()
                plan = load_routing_plan(session, settings(), since=start - timedelta(days=1))
                new = appointments.book(
                    session,
                    plan,
                    old.site_id,
                    old.service_code,
                    old.counsellor_id,
                    start,
                    form.minutes.data,
                    old.citizen_ref,
                )
            except appointments.BookingRefused as exc:
                session.rollback()
                form.fail(form.start, f"déplacement refusé : {exc}")
            else:
                convocations.carry_over(session, old.id, new.id)
                audit.record(
                    session, me().login, "move", "appointments", old.id, before, audit.snapshot(new)
                )
                session.commit()
                flash(f"Rendez-vous n°{old.id} déplacé : c'est désormais le n°{new.id}.", "success")
                return redirect(url_for("manager.index", service=old.service_code), 303)
        status = 400 if form.errors else 200
        return render_template("manager/move.html", form=form, appointment=old), status


@bp.post("/appointments/<int:appointment_id>/<any(cancel, no_show):action>")
def change_status(appointment_id: int, action: str) -> Any:
    status = AppointmentStatus.CANCELLED if action == "cancel" else AppointmentStatus.NO_SHOW
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        service = row.service_code
        before = audit.snapshot(row)
        if status is AppointmentStatus.NO_SHOW and row.start > datetime.now(UTC):
            flash(
                f"Rendez-vous n°{row.id} : il n'a pas encore eu lieu, l'absence ne peut "
                "être notée.",
                "error",
            )
            return redirect(url_for("manager.index", service=service), 303)
        try:
            appointments.set_status(session, row.id, status)
        except appointments.BookingRefused as exc:
            session.rollback()
            flash(f"Rendez-vous n°{row.id} : {exc}.", "error")
            return redirect(url_for("manager.index", service=service), 303)
        audit.record(
            session, me().login, action, "appointments", row.id, before, audit.snapshot(row)
        )
        session.commit()
        done = "annulé" if action == "cancel" else "noté absent"
        flash(f"Rendez-vous n°{row.id} {done}.", "success")
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
        feed = session.get(CounsellorFeed, counsellor_id)
        if feed is None:
            feed = CounsellorFeed(counsellor_id=counsellor_id)
            session.add(feed)
        token = secrets.token_urlsafe(24)
        feed.token_sha256 = feed_digest(token)
        audit.record(session, me().login, "new_feed_link", "counsellor_feeds", counsellor_id)
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
