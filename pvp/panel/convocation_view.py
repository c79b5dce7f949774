"""Convoking the citizen of an appointment: minimal contact details, the letter (PDF) and the
notices the scheduled job sends (:mod:`pvp.convocations`). Views of the manager's area."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from wtforms import EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from pvp.convocation_letter import BRING, BRING_DEFAULT, letter_pdf
from pvp.convocations import LIVE, MAX_ATTEMPTS, convocation
from pvp.model import CitizenContact, CitizenNotice
from pvp.panel.forms import PanelForm
from pvp.panel.manager import _appointment, bp
from pvp.panel.security import db, me, settings
from pvp.services import citizen_contacts

NOTICE_LABELS = {
    "convocation": "convocation",
    "reminder": "rappel de la veille",
    "change": "changement",
    "cancellation": "annulation",
}


class ContactForm(PanelForm):
    name = StringField(
        "Nom de l'usager",
        validators=[DataRequired(message="ce champ est obligatoire"), Length(max=120)],
        description="Tel qu'il figurera sur la convocation, par exemple « Mme Martin ».",
    )
    email = EmailField(
        "Adresse e-mail",
        validators=[
            Optional(),
            Length(max=200),
            Email(message="adresse e-mail invalide", check_deliverability=False),
        ],
        description="Pour envoyer la convocation, le rappel de la veille et les changements.",
    )
    phone = StringField(
        "Téléphone",
        validators=[
            Optional(),
            Regexp(r"^\+?[0-9 .\-]{10,20}$", message="numéro invalide, par exemple 04 71 00 00 00"),
        ],
        description="Pour prévenir l'usager sans e-mail (la convocation est alors imprimée).",
    )
    bring = TextAreaField(
        "Pièces à apporter",
        validators=[Length(max=600)],
        description="Laissé vide : la liste habituelle du service.",
    )

    def validate(self, extra_validators: Any = None) -> bool:
        # Not an inline validator: Optional() on both fields would skip it when both are empty.
        ok = super().validate(extra_validators)
        if not (self.email.data or "").strip() and not (self.phone.data or "").strip():
            self.fail(self.phone, "indiquez une adresse e-mail ou un téléphone")
            return False
        return ok


def _page(appointment_id: int, form: ContactForm, status: int = 200) -> Any:
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        contact = session.get(CitizenContact, appointment_id)
        notices = session.scalars(
            select(CitizenNotice)
            .where(CitizenNotice.appointment_id == appointment_id)
            .order_by(CitizenNotice.id)
        ).all()
        return render_template(
            "manager/convocation.html",
            appointment=row,
            contact=contact,
            notices=notices,
            labels=NOTICE_LABELS,
            form=form,
            retention=settings().convocation_retention_days,
            default_bring=BRING.get(row.service_code, BRING_DEFAULT),
            live=row.status in LIVE,
            max_attempts=MAX_ATTEMPTS,
        ), status


@bp.route("/appointments/<int:appointment_id>/convocation", methods=["GET", "POST"])
def convocation_page(appointment_id: int) -> Any:
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        form = ContactForm(obj=session.get(CitizenContact, appointment_id))
        if not form.validate_on_submit():
            return _page(appointment_id, form, 400 if form.errors else 200)
        fields = (form.name, form.email, form.phone, form.bring)
        details = {f.name: f.data or "" for f in fields}
        try:
            contact = citizen_contacts.convoke(
                session, row, details, datetime.now(UTC), actor=me().login
            )
        except citizen_contacts.ConvocationRefused as exc:
            form.fail(form.name, exc.message)
            return _page(appointment_id, form, 400)
        session.commit()
    sent = "l'e-mail part dans les minutes qui viennent" if contact.email else "à imprimer"
    flash(f"Convocation du rendez-vous n°{appointment_id} enregistrée : {sent}.", "success")
    return redirect(url_for("manager.convocation_page", appointment_id=appointment_id), 303)


@bp.get("/appointments/<int:appointment_id>/convocation.pdf")
def convocation_pdf(appointment_id: int) -> Any:
    with db().sessions() as session:
        row = _appointment(session, appointment_id)
        contact = session.get(CitizenContact, appointment_id)
        if contact is None:
            abort(404)
        pdf = letter_pdf(convocation(session, row, contact, settings()), datetime.now(UTC))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=convocation-{appointment_id}.pdf",
            "Cache-Control": "no-store",
        },
    )
