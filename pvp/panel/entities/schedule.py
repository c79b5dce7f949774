"""Routing rules, opening windows and closures: forms, choices, stores and labels."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from wtforms import DateField, SelectChoice, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from pvp.model import ClosureDay, ExpertQueue, OpeningWindow, RouteRule, Service, Site
from pvp.panel.crud import Scope
from pvp.panel.entities.common import DATE_REQUIRED, DAY_CHOICES, MODE_CHOICES, REQUIRED, choices
from pvp.panel.forms import CheckboxesField, PanelForm, csv_of_ints, opts
from pvp.panel.french import window_of

# --- routes, windows, closures ---


class RouteForm(PanelForm):
    site_id = SelectField("Site")
    service_code = SelectField("Service")
    queue_id = SelectField("File d'experts qui répond")


def members_text(n: int) -> str:
    return "aucun membre" if n == 0 else f"{n} membre{'s' if n > 1 else ''}"


def fill_route(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = choices(session, Site, lambda s: f"{s.commune} ({s.id})")
    form.service_code.choices = choices(session, Service, lambda s: s.name)
    # Grouped by service, each queue with its number of members (a page script shows the
    # chosen service's group only; the check on saving stays).
    names = {s.code: s.name for s in session.scalars(select(Service))}
    queues = session.scalars(
        select(ExpertQueue).order_by(ExpertQueue.service_code, ExpertQueue.name)
    )
    form.queue_id.choices = [
        SelectChoice(
            q.id,
            f"{q.name} ({members_text(len(q.memberships))})",
            render_kw={"data-service": q.service_code},
            optgroup=names.get(q.service_code, q.service_code),
        )
        for q in queues
    ]


def route_warnings(session: Session, row: RouteRule) -> list[str]:
    queue = session.get(ExpertQueue, row.queue_id)
    if queue is not None and not queue.memberships:
        return [
            f"Attention : la file « {queue.name} » n'a aucun conseiller. Un appel routé vers "
            "elle attendra sans réponse ; ajoutez-lui des membres (« Appartenance aux files »)."
        ]
    return []


def route_label(session: Session, r: RouteRule) -> str:
    """``Vorey · MSA``: the rule as people name it."""
    site = session.get(Site, r.site_id)
    return f"{site.commune if site else r.site_id} · {r.service_code.upper()}"


class WindowForm(PanelForm):
    route_id = SelectField("Règle de routage (site / service)", coerce=int)
    mode = SelectField("Mode", choices=MODE_CHOICES)
    weekdays = CheckboxesField("Jours", choices=DAY_CHOICES, render_kw={"class": "checks"})
    nth = StringField(
        "Rang du jour dans le mois",
        validators=[csv_of_ints({-1, 1, 2, 3, 4, 5}, "rang")],
        description="Vide : chaque semaine. « 4 » : le 4e du mois ; « 1,3 » ; « -1 » : le dernier.",
    )
    start_time = TimeField("Ouverture", validators=[InputRequired(message="heure invalide")])
    end_time = TimeField("Fermeture", validators=[InputRequired(message="heure invalide")])
    valid_from = DateField("Valable à partir du", validators=[Optional()])
    valid_until = DateField("Valable jusqu'au", validators=[Optional()])
    except_dates = StringField(
        "Jours exclus",
        validators=[Length(max=2000)],
        description="Dates AAAA-MM-JJ séparées par des virgules.",
    )
    note = StringField("Note", validators=[Length(max=400)])

    def validate_weekdays(self, field: Any) -> None:
        if not field.data:
            raise ValidationError("choisissez au moins un jour")

    def validate_end_time(self, field: Any) -> None:
        if self.start_time.data and field.data and field.data <= self.start_time.data:
            raise ValidationError("l'heure de fermeture doit suivre l'heure d'ouverture")

    def validate_valid_until(self, field: Any) -> None:
        if self.valid_from.data and field.data and field.data < self.valid_from.data:
            raise ValidationError("la fin de validité précède son début")

    def validate_except_dates(self, field: Any) -> None:
        for text in (field.data or "").split(","):
            if text.strip():
                try:
                    date.fromisoformat(text.strip())
                except ValueError:
                    raise ValidationError(
                        f"date invalide {text.strip()!r} : attendu AAAA-MM-JJ"
                    ) from None


def window_load(row: OpeningWindow) -> dict[str, Any]:
    return {
        "route_id": row.route_id,
        "mode": row.mode,
        "weekdays": [d for d in row.weekdays.split(",") if d],
        "nth": row.nth,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "except_dates": row.except_dates,
        "note": row.note,
    }


def fill_window(session: Session, form: PanelForm, scope: Scope) -> None:
    where = [RouteRule.service_code == scope] if scope else []
    rows = session.scalars(select(RouteRule).where(*where))
    form.route_id.choices = opts(
        sorted(((r.id, route_label(session, r)) for r in rows), key=lambda c: c[1])
    )


def window_service(session_row: OpeningWindow) -> str | None:
    from sqlalchemy.orm import object_session

    session = object_session(session_row)
    route = session.get(RouteRule, session_row.route_id) if session else None
    return route.service_code if route else None


class ClosureForm(PanelForm):
    site_id = SelectField("Site (vide : tous)")
    service_code = SelectField("Service (vide : tous)")
    first_day = DateField("Premier jour", validators=[DATE_REQUIRED])
    last_day = DateField("Dernier jour", validators=[DATE_REQUIRED])
    reason = StringField("Motif", validators=[REQUIRED, Length(max=200)])

    def validate_last_day(self, field: Any) -> None:
        if self.first_day.data and field.data and field.data < self.first_day.data:
            raise ValidationError("le dernier jour précède le premier")


def fill_closure(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = opts([("", "tous les sites")]) + choices(
        session, Site, lambda s: s.commune
    )
    form.service_code.choices = opts([("", "tous les services")]) + choices(
        session, Service, lambda s: s.name
    )


def closure_load(row: ClosureDay) -> dict[str, Any]:
    return {
        "site_id": row.site_id or "",
        "service_code": row.service_code or "",
        "first_day": row.first_day,
        "last_day": row.last_day,
        "reason": row.reason,
    }


def route_of(row: OpeningWindow) -> str:
    session = object_session(row)
    route = session.get(RouteRule, row.route_id) if session is not None else None
    return route_label(session, route) if session is not None and route else str(row.route_id)


def route_text(r: RouteRule) -> str:
    session = object_session(r)
    return route_label(session, r) if session is not None else str(r.id)


def window_label(w: OpeningWindow) -> str:
    """``Vorey · MSA · 4e vendredi 9:00–12:00``."""
    return f"{route_of(w)} · {window_of(w)}"
