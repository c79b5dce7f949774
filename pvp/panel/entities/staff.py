"""Agencies, expert stations, queues, counsellors and memberships: forms, choices and stores."""

from __future__ import annotations

from sqlalchemy.orm import Session
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from pvp.model import Agency, Counsellor, ExpertQueue, ExpertStation, Service
from pvp.panel.crud import Scope
from pvp.panel.entities.common import IDENT_CHECK, REQUIRED, STRATEGIES, choices
from pvp.panel.entities.places import fill_departments
from pvp.panel.forms import PanelForm, opts
from pvp.wire.identities import reserved_reason

# --- agencies, stations, queues ---


class AgencyForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    service_code = SelectField("Service")
    name = StringField("Nom", validators=[REQUIRED, Length(max=160)])
    town = StringField("Ville", validators=[REQUIRED, Length(max=120)])
    department_code = SelectField("Département")
    pilot = BooleanField("Agence pilote")


def fill_agency(session: Session, form: PanelForm, scope: Scope) -> None:
    fill_departments(session, form, scope)
    form.service_code.choices = choices(session, Service, lambda s: s.name)


class StationForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    agency_id = SelectField("Agence")
    label = StringField("Libellé", validators=[Length(max=160)])


def fill_agency_choice(session: Session, form: PanelForm, scope: Scope) -> None:
    where = [Agency.service_code == scope] if scope else []
    form.agency_id.choices = choices(session, Agency, lambda a: a.name, *where)


def seconds_field(label: str, low: int, high: int, default: int, hint: str) -> IntegerField:
    """A queue timer in whole seconds, required, from ``low`` to ``high``."""
    return IntegerField(
        label,
        default=default,
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(low, high, message=f"entre {low} et {high} secondes"),
        ],
        description=hint,
    )


class QueueForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    agency_id = SelectField("Agence")
    name = StringField("Nom", validators=[REQUIRED, Length(max=160)])
    strategy = SelectField(
        "Répartition",
        choices=opts(STRATEGIES.items()),
    )
    max_wait_seconds = seconds_field(
        "Attente maximale (s)",
        1,
        4 * 3600,
        900,
        "Au-delà, l'usager est prévenu que personne n'est libre (900 s = 15 min).",
    )
    no_answer_timeout_seconds = seconds_field(
        "Délai de non-réponse (s)",
        5,
        300,
        20,
        "Sonnerie d'un conseiller avant de proposer l'appel au suivant (20 s).",
    )
    wrap_up_seconds = seconds_field(
        "Temps de clôture après appel (s)",
        0,
        3600,
        60,
        "Répit du conseiller après un appel avant le suivant (60 s).",
    )


# --- counsellors and memberships ---


def _not_reserved(form: PanelForm, field: StringField) -> None:
    if reason := reserved_reason(field.data or ""):
        raise ValidationError(reason)


class CounsellorForm(PanelForm):
    id = StringField("Identifiant (compte SIP)", validators=[REQUIRED, IDENT_CHECK, _not_reserved])
    display_name = StringField("Nom affiché", validators=[REQUIRED, Length(max=160)])
    agency_id = SelectField("Agence")
    station_id = SelectField("Poste expert")


def fill_counsellor(session: Session, form: PanelForm, scope: Scope) -> None:
    fill_agency_choice(session, form, scope)
    agencies = [c.value for c in form.agency_id.choices]
    form.station_id.choices = opts([("", "aucun")]) + choices(
        session,
        ExpertStation,
        lambda s: f"{s.label} ({s.id})" if s.label and s.label != s.id else s.id,
        ExpertStation.agency_id.in_(agencies),
    )


class MembershipForm(PanelForm):
    counsellor_id = SelectField("Conseiller")
    queue_id = SelectField("File d'experts")
    priority = IntegerField(
        "Priorité (1 est servie d'abord)",
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(1, 9, message="entre 1 et 9"),
        ],
    )


def fill_membership(session: Session, form: PanelForm, scope: Scope) -> None:
    c_where = [Counsellor.agency.has(Agency.service_code == scope)] if scope else []
    q_where = [ExpertQueue.service_code == scope] if scope else []
    form.counsellor_id.choices = choices(session, Counsellor, lambda c: c.display_name, *c_where)
    form.queue_id.choices = choices(session, ExpertQueue, lambda q: q.name, *q_where)


def membership_key(key: str) -> tuple[str, str]:
    counsellor, sep, queue = key.partition("~")
    if not sep:
        raise ValueError(key)
    return counsellor, queue
