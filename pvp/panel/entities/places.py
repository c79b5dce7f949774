"""Services, sites and kiosks as editable entities: their forms, choices and stores."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional, Regexp

from pvp.model import Department, Kiosk, Site
from pvp.panel.crud import Scope
from pvp.panel.entities.common import IDENT_CHECK, MODE_CHOICES, REQUIRED, choices
from pvp.panel.forms import PanelForm, opts, phone_number
from pvp.plan import SERVICE_CODES

# --- services and departments ---


class ServiceForm(PanelForm):
    code = SelectField("Code", choices=opts((c, c) for c in SERVICE_CODES))
    name = StringField("Nom", validators=[REQUIRED, Length(max=120)])
    default_mode = SelectField("Mode par défaut", choices=MODE_CHOICES)


# --- sites and kiosks ---


class SiteForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    department_code = SelectField("Département")
    community = StringField("Communauté de communes", validators=[REQUIRED, Length(max=120)])
    commune = StringField("Commune", validators=[REQUIRED, Length(max=120)])
    host_place = StringField("Lieu d'accueil", validators=[Length(max=200)])
    agent_phone = StringField(
        "Téléphone de l'agent",
        validators=[Optional(), Length(max=32), phone_number],
        description="P. ex. 04 71 00 00 00 (tirets, points ou +33 acceptés).",
    )
    agent_email = StringField(
        "Courriel de l'agent",
        validators=[Optional(), Email(message="adresse électronique invalide"), Length(max=200)],
    )
    pilot = BooleanField("Site pilote")


def fill_departments(session: Session, form: PanelForm, scope: Scope) -> None:
    form.department_code.choices = choices(session, Department, lambda d: f"{d.code} {d.name}")


class KioskForm(PanelForm):
    site_id = SelectField("Site")
    number = IntegerField(
        "Numéro de la borne sur le site",
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(1, 9, message="entre 1 et 9"),
        ],
    )
    buttons = StringField(
        "Boutons de service",
        validators=[
            REQUIRED,
            Regexp(
                r"^[a-z, ]+$", message="codes de service séparés par des virgules, p. ex. anpe,msa"
            ),
        ],
        description="De gauche à droite, séparés par des virgules (p. ex. anpe,msa).",
    )


def kiosk_load(row: Kiosk) -> dict[str, Any]:
    number = row.id.rsplit("-", 1)[-1]
    return {
        "site_id": row.site_id,
        "number": int(number) if number.isdigit() else 1,
        "buttons": ",".join(row.service_codes),
    }


def fill_kiosk(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = choices(session, Site, lambda s: f"{s.commune} ({s.id})")
