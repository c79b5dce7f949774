"""The plan's tables as editable entities: their forms, checks and how a form is stored."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from pvp.calendar import WEEKDAYS
from pvp.identities import reserved_reason
from pvp.model import (
    Agency,
    ClosureDay,
    Counsellor,
    Department,
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
from pvp.panel.crud import Entity, Scope
from pvp.panel.forms import (
    CheckboxesField,
    FieldError,
    PanelForm,
    csv_of_ints,
    opts,
    phone_number,
)
from pvp.panel.french import DAY_NAMES, MODES, nth_text, weekdays_text, window_of
from pvp.plan import IDENT, SERVICE_CODES, kiosk_id
from pvp.provisioning import a1_hash, new_secret

IDENT_CHECK = Regexp(IDENT, message="minuscules, chiffres, point ou tiret (63 caractères au plus)")
REQUIRED = DataRequired(message="ce champ est obligatoire")
MODE_CHOICES = opts(MODES.items())
DAY_CHOICES = opts((d, DAY_NAMES[d]) for d in WEEKDAYS)
DATE_REQUIRED = InputRequired(message="date obligatoire")
STRATEGIES = {"longest_idle": "le plus longtemps libre", "round_robin": "à tour de rôle"}


def _realm() -> str:
    from pvp.panel.security import settings

    return settings().sip_domain


def _choices(session: Session, model: Any, label: Any, *where: Any) -> list[Any]:
    rows = session.scalars(select(model).where(*where))
    key = model.__table__.primary_key.columns.keys()[0]
    return opts(sorted((str(getattr(r, key)), label(r)) for r in rows))


def _new_id(session: Session, model: Any, ident: str) -> None:
    if session.get(model, ident) is not None:
        raise FieldError("id", f"l'identifiant {ident!r} existe déjà")


def _row_or_new(session: Session, model: Any, row: Any, form: PanelForm) -> Any:
    """The edited row, or a new one under the form's (unused) id."""
    if row is None:
        _new_id(session, model, form.id.data)
        row = model(id=form.id.data)
        session.add(row)
    return row


def _give_secret(row: Any) -> None:
    # The plain secret is shown once by the view; only its digest is kept.
    secret = new_secret()
    row.a1_hash = a1_hash(row.id, _realm(), secret)
    row._new_secret = secret


def _copy(row: Any, form: PanelForm, *names: str) -> None:
    for name in names:
        value = form[name].data
        setattr(row, name, value.strip() if isinstance(value, str) else value)


# --- services and departments ---


class ServiceForm(PanelForm):
    code = SelectField("Code", choices=opts((c, c) for c in SERVICE_CODES))
    name = StringField("Nom", validators=[REQUIRED, Length(max=120)])
    default_mode = SelectField("Mode par défaut", choices=MODE_CHOICES)


def _store_service(session: Session, row: Service | None, form: PanelForm) -> Service:
    if row is None:
        if session.get(Service, form.code.data) is not None:
            raise FieldError("code", f"le service {form.code.data!r} existe déjà")
        row = Service(code=form.code.data)
        session.add(row)
    _copy(row, form, "name", "default_mode")
    return row


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


def _fill_departments(session: Session, form: PanelForm, scope: Scope) -> None:
    form.department_code.choices = _choices(session, Department, lambda d: f"{d.code} {d.name}")


def _store_site(session: Session, row: Site | None, form: PanelForm) -> Site:
    row = _row_or_new(session, Site, row, form)
    _copy(
        row,
        form,
        "department_code",
        "community",
        "commune",
        "host_place",
        "agent_phone",
        "agent_email",
        "pilot",
    )
    return row


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


def _kiosk_load(row: Kiosk) -> dict[str, Any]:
    number = row.id.rsplit("-", 1)[-1]
    return {
        "site_id": row.site_id,
        "number": int(number) if number.isdigit() else 1,
        "buttons": ",".join(row.service_codes),
    }


def _fill_kiosk(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = _choices(session, Site, lambda s: f"{s.commune} ({s.id})")


def _store_kiosk(session: Session, row: Kiosk | None, form: PanelForm) -> Kiosk:
    codes = [c.strip() for c in form.buttons.data.split(",") if c.strip()]
    known = set(session.scalars(select(Service.code)))
    for code in codes:
        if code not in known:
            raise FieldError("buttons", f"service inconnu : {code!r}")
    if len(set(codes)) != len(codes):
        raise FieldError("buttons", "un service figure deux fois")
    if row is None:
        ident = kiosk_id(form.site_id.data, form.number.data)
        if session.get(Kiosk, ident) is not None:
            raise FieldError("number", f"la borne {ident} existe déjà")
        row = Kiosk(id=ident, site_id=form.site_id.data, a1_hash="")
        _give_secret(row)
        session.add(row)
    if row.service_codes != codes:
        row.buttons.clear()
        session.flush()
        row.buttons.extend(KioskButton(service_code=c, position=i) for i, c in enumerate(codes))
    return row


# --- agencies, stations, queues ---


class AgencyForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    service_code = SelectField("Service")
    name = StringField("Nom", validators=[REQUIRED, Length(max=160)])
    town = StringField("Ville", validators=[REQUIRED, Length(max=120)])
    department_code = SelectField("Département")
    pilot = BooleanField("Agence pilote")


def _fill_agency(session: Session, form: PanelForm, scope: Scope) -> None:
    _fill_departments(session, form, scope)
    form.service_code.choices = _choices(session, Service, lambda s: s.name)


def _store_agency(session: Session, row: Agency | None, form: PanelForm) -> Agency:
    if row is not None and row.service_code != form.service_code.data and row.queues:
        raise FieldError("service_code", "l'agence a des files : changez-les d'abord")
    row = _row_or_new(session, Agency, row, form)
    _copy(row, form, "service_code", "name", "town", "department_code", "pilot")
    return row


class StationForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    agency_id = SelectField("Agence")
    label = StringField("Libellé", validators=[Length(max=160)])


def _fill_agency_choice(session: Session, form: PanelForm, scope: Scope) -> None:
    where = [Agency.service_code == scope] if scope else []
    form.agency_id.choices = _choices(session, Agency, lambda a: a.name, *where)


def _store_station(session: Session, row: ExpertStation | None, form: PanelForm) -> ExpertStation:
    row = _row_or_new(session, ExpertStation, row, form)
    _copy(row, form, "agency_id", "label")
    return row


class QueueForm(PanelForm):
    id = StringField("Identifiant", validators=[REQUIRED, IDENT_CHECK])
    agency_id = SelectField("Agence")
    name = StringField("Nom", validators=[REQUIRED, Length(max=160)])
    strategy = SelectField(
        "Répartition",
        choices=opts(STRATEGIES.items()),
    )
    max_wait_seconds = IntegerField(
        "Attente maximale (s)",
        default=900,
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(1, 4 * 3600, message="entre 1 et 14400 secondes"),
        ],
        description="Au-delà, l'usager est prévenu que personne n'est libre (900 s = 15 min).",
    )
    no_answer_timeout_seconds = IntegerField(
        "Délai de non-réponse (s)",
        default=20,
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(5, 300, message="entre 5 et 300 secondes"),
        ],
        description="Sonnerie d'un conseiller avant de proposer l'appel au suivant (20 s).",
    )
    wrap_up_seconds = IntegerField(
        "Temps de clôture après appel (s)",
        default=60,
        validators=[
            InputRequired(message="ce champ est obligatoire"),
            NumberRange(0, 3600, message="entre 0 et 3600 secondes"),
        ],
        description="Répit du conseiller après un appel avant le suivant (60 s).",
    )


def _store_queue(session: Session, row: ExpertQueue | None, form: PanelForm) -> ExpertQueue:
    agency = session.get(Agency, form.agency_id.data)
    assert agency is not None  # a SelectField only admits listed agencies
    if row is not None and row.service_code != agency.service_code:
        raise FieldError("agency_id", "une file ne change pas de service")
    row = _row_or_new(session, ExpertQueue, row, form)
    _copy(
        row,
        form,
        "agency_id",
        "name",
        "strategy",
        "max_wait_seconds",
        "no_answer_timeout_seconds",
        "wrap_up_seconds",
    )
    row.service_code = agency.service_code
    return row


# --- counsellors and memberships ---


def _not_reserved(form: PanelForm, field: StringField) -> None:
    if reason := reserved_reason(field.data or ""):
        raise ValidationError(reason)


class CounsellorForm(PanelForm):
    id = StringField("Identifiant (compte SIP)", validators=[REQUIRED, IDENT_CHECK, _not_reserved])
    display_name = StringField("Nom affiché", validators=[REQUIRED, Length(max=160)])
    agency_id = SelectField("Agence")
    station_id = SelectField("Poste expert")


def _fill_counsellor(session: Session, form: PanelForm, scope: Scope) -> None:
    _fill_agency_choice(session, form, scope)
    agencies = [c.value for c in form.agency_id.choices]
    form.station_id.choices = opts([("", "aucun")]) + _choices(
        session,
        ExpertStation,
        lambda s: f"{s.label} ({s.id})" if s.label and s.label != s.id else s.id,
        ExpertStation.agency_id.in_(agencies),
    )


def _store_counsellor(session: Session, row: Counsellor | None, form: PanelForm) -> Counsellor:
    station = form.station_id.data or None
    if station is not None:
        found = session.get(ExpertStation, station)
        if found is None or found.agency_id != form.agency_id.data:
            raise FieldError("station_id", "ce poste n'appartient pas à l'agence choisie")
    if row is None:
        _new_id(session, Counsellor, form.id.data)
        if session.get(Kiosk, form.id.data) is not None:
            raise FieldError("id", "une borne porte déjà ce compte SIP")
        row = Counsellor(id=form.id.data)
        _give_secret(row)
        session.add(row)
    _copy(row, form, "display_name", "agency_id")
    row.station_id = station
    return row


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


def _fill_membership(session: Session, form: PanelForm, scope: Scope) -> None:
    c_where = [Counsellor.agency.has(Agency.service_code == scope)] if scope else []
    q_where = [ExpertQueue.service_code == scope] if scope else []
    form.counsellor_id.choices = _choices(session, Counsellor, lambda c: c.display_name, *c_where)
    form.queue_id.choices = _choices(session, ExpertQueue, lambda q: q.name, *q_where)


def _store_membership(
    session: Session, row: QueueMembership | None, form: PanelForm
) -> QueueMembership:
    counsellor = session.get(Counsellor, form.counsellor_id.data)
    queue = session.get(ExpertQueue, form.queue_id.data)
    assert counsellor is not None and queue is not None
    if counsellor.agency.service_code != queue.service_code:
        raise FieldError("queue_id", "cette file appartient à un autre service")
    if row is None:
        key = (counsellor.id, queue.id)
        if session.get(QueueMembership, key) is not None:
            raise FieldError("queue_id", "le conseiller est déjà membre de cette file")
        row = QueueMembership(counsellor_id=counsellor.id, queue_id=queue.id)
        session.add(row)
    row.priority = form.priority.data
    return row


def _membership_key(key: str) -> tuple[str, str]:
    counsellor, sep, queue = key.partition("~")
    if not sep:
        raise ValueError(key)
    return counsellor, queue


# --- routes, windows, closures ---


class RouteForm(PanelForm):
    site_id = SelectField("Site")
    service_code = SelectField("Service")
    queue_id = SelectField("File d'experts qui répond")


def _members_text(n: int) -> str:
    return "aucun membre" if n == 0 else f"{n} membre{'s' if n > 1 else ''}"


def _fill_route(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = _choices(session, Site, lambda s: f"{s.commune} ({s.id})")
    form.service_code.choices = _choices(session, Service, lambda s: s.name)
    # Grouped by service, each queue with its number of members (a page script shows the
    # chosen service's group only; the check on saving stays).
    names = {s.code: s.name for s in session.scalars(select(Service))}
    queues = session.scalars(
        select(ExpertQueue).order_by(ExpertQueue.service_code, ExpertQueue.name)
    )
    form.queue_id.choices = [
        SelectChoice(
            q.id,
            f"{q.name} ({_members_text(len(q.memberships))})",
            render_kw={"data-service": q.service_code},
            optgroup=names.get(q.service_code, q.service_code),
        )
        for q in queues
    ]


def _store_route(session: Session, row: RouteRule | None, form: PanelForm) -> RouteRule:
    site, service = form.site_id.data, form.service_code.data
    queue = session.get(ExpertQueue, form.queue_id.data)
    assert queue is not None
    if queue.service_code != service:
        raise FieldError("queue_id", "cette file appartient à un autre service")
    buttons = session.scalars(
        select(KioskButton)
        .join(Kiosk)
        .where(Kiosk.site_id == site, KioskButton.service_code == service)
    ).first()
    if buttons is None:
        raise FieldError("service_code", "aucune borne du site n'a de bouton pour ce service")
    clash = session.scalars(
        select(RouteRule).where(RouteRule.site_id == site, RouteRule.service_code == service)
    ).first()
    if clash is not None and clash is not row:
        raise FieldError("service_code", "ce service a déjà une règle sur ce site")
    if row is None:
        row = RouteRule()
        session.add(row)
    # An edit may move the rule to another site or service (its windows follow it).
    row.site_id, row.service_code, row.queue_id = site, service, queue.id
    return row


def _route_warnings(session: Session, row: RouteRule) -> list[str]:
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


def _window_load(row: OpeningWindow) -> dict[str, Any]:
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


def _fill_window(session: Session, form: PanelForm, scope: Scope) -> None:
    where = [RouteRule.service_code == scope] if scope else []
    rows = session.scalars(select(RouteRule).where(*where))
    form.route_id.choices = opts(
        sorted(((r.id, route_label(session, r)) for r in rows), key=lambda c: c[1])
    )


def _store_window(session: Session, row: OpeningWindow | None, form: PanelForm) -> OpeningWindow:
    if row is None:
        row = OpeningWindow()
        session.add(row)
    row.route_id = form.route_id.data
    row.mode = form.mode.data
    row.weekdays = ",".join(d for d in WEEKDAYS if d in form.weekdays.data)
    row.nth = ",".join(re.sub(r"\s+", "", form.nth.data or "").split(",")).strip(",")
    row.start_time, row.end_time = form.start_time.data, form.end_time.data
    row.valid_from, row.valid_until = form.valid_from.data, form.valid_until.data
    dates = sorted(
        {date.fromisoformat(t.strip()) for t in form.except_dates.data.split(",") if t.strip()}
    )
    row.except_dates = ",".join(d.isoformat() for d in dates)
    row.note = form.note.data.strip()
    return row


def _window_service(session_row: OpeningWindow) -> str | None:
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


def _fill_closure(session: Session, form: PanelForm, scope: Scope) -> None:
    form.site_id.choices = opts([("", "tous les sites")]) + _choices(
        session, Site, lambda s: s.commune
    )
    form.service_code.choices = opts([("", "tous les services")]) + _choices(
        session, Service, lambda s: s.name
    )


def _store_closure(session: Session, row: ClosureDay | None, form: PanelForm) -> ClosureDay:
    if row is None:
        row = ClosureDay()
        session.add(row)
    row.site_id = form.site_id.data or None
    row.service_code = form.service_code.data or None
    _copy(row, form, "first_day", "last_day", "reason")
    return row


def _closure_load(row: ClosureDay) -> dict[str, Any]:
    return {
        "site_id": row.site_id or "",
        "service_code": row.service_code or "",
        "first_day": row.first_day,
        "last_day": row.last_day,
        "reason": row.reason,
    }


def _time(t: Any) -> str:
    return t.strftime("%H:%M") if t else ""


def _named(model: Any, attr: str, name: str, empty: str = "") -> Callable[[Any], str]:
    """A column showing the name of the row that ``attr`` refers to (not its id)."""

    def cell(row: Any) -> str:
        ident = getattr(row, attr)
        session = object_session(row)
        other = session.get(model, ident) if session is not None and ident else None
        return getattr(other, name) if other is not None else (ident or empty)

    return cell


def _route_of(row: OpeningWindow) -> str:
    session = object_session(row)
    route = session.get(RouteRule, row.route_id) if session is not None else None
    return route_label(session, route) if session is not None and route else str(row.route_id)


def _route_text(r: RouteRule) -> str:
    session = object_session(r)
    return route_label(session, r) if session is not None else str(r.id)


def _window_label(w: OpeningWindow) -> str:
    """``Vorey · MSA · 4e vendredi 9:00–12:00``."""
    return f"{_route_of(w)} · {window_of(w)}"


def _date(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def _excluded(w: OpeningWindow) -> str:
    return ", ".join(_date(date.fromisoformat(d)) for d in w.except_dates.split(",") if d)


def _validity(w: OpeningWindow) -> str:
    if w.valid_from and w.valid_until:
        return f"du {_date(w.valid_from)} au {_date(w.valid_until)}"
    if w.valid_from:
        return f"à partir du {_date(w.valid_from)}"
    if w.valid_until:
        return f"jusqu'au {_date(w.valid_until)}"
    return "toujours"


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "sites",
            "Sites",
            "le site",
            Site,
            SiteForm,
            (
                ("Commune", lambda r: r.commune),
                ("Identifiant", lambda r: r.id),
                ("Communauté", lambda r: r.community),
                ("Département", _named(Department, "department_code", "name")),
                ("Agent", lambda r: " · ".join(x for x in (r.agent_phone, r.agent_email) if x)),
                ("Pilote", lambda r: "oui" if r.pilot else ""),
            ),
            _store_site,
            fill=_fill_departments,
            order=(Site.commune,),
            label=lambda r: r.commune,
            form_note=(
                "Une modification s'applique dès le prochain appel ; le téléphone de l'agent "
                "s'affiche sur l'écran des bornes du site à leur prochaine mise à jour des "
                "horaires (5 minutes au plus), sans nouveau paquet d'installation."
            ),
        ),
        Entity(
            "kiosks",
            "Bornes et boutons",
            "la borne",
            Kiosk,
            KioskForm,
            (
                ("Borne", lambda r: r.id),
                ("Site", _named(Site, "site_id", "commune")),
                ("Boutons", lambda r: ", ".join(c.upper() for c in r.service_codes)),
            ),
            _store_kiosk,
            fill=_fill_kiosk,
            load=_kiosk_load,
            extra=lambda r: {"buttons": r.service_codes},
            locked_on_edit=("site_id", "number"),
            order=(Kiosk.id,),
            note="Une nouvelle borne reçoit un secret SIP aléatoire, affiché une seule fois.",
        ),
        Entity(
            "services",
            "Services",
            "le service",
            Service,
            ServiceForm,
            (
                ("Code", lambda r: r.code),
                ("Nom", lambda r: r.name),
                ("Mode", lambda r: MODES.get(r.default_mode, r.default_mode)),
            ),
            _store_service,
            key=lambda r: r.code,
            locked_on_edit=("code",),
            order=(Service.code,),
        ),
        Entity(
            "agencies",
            "Agences",
            "l'agence",
            Agency,
            AgencyForm,
            (
                ("Identifiant", lambda r: r.id),
                ("Nom", lambda r: r.name),
                ("Service", lambda r: r.service_code.upper()),
                ("Ville", lambda r: r.town),
            ),
            _store_agency,
            fill=_fill_agency,
            order=(Agency.name,),
            label=lambda r: r.name,
        ),
        Entity(
            "stations",
            "Postes experts",
            "le poste",
            ExpertStation,
            StationForm,
            (
                ("Identifiant", lambda r: r.id),
                ("Agence", _named(Agency, "agency_id", "name")),
                ("Libellé", lambda r: r.label),
            ),
            _store_station,
            fill=_fill_agency_choice,
            order=(ExpertStation.id,),
        ),
        Entity(
            "queues",
            "Files d'experts",
            "la file",
            ExpertQueue,
            QueueForm,
            (
                ("Identifiant", lambda r: r.id),
                ("Nom", lambda r: r.name),
                ("Agence", _named(Agency, "agency_id", "name")),
                ("Membres", lambda r: len(r.memberships) or "aucun"),
                ("Répartition", lambda r: STRATEGIES.get(r.strategy, r.strategy)),
                ("Attente max.", lambda r: f"{r.max_wait_seconds} s"),
                ("Non-réponse", lambda r: f"{r.no_answer_timeout_seconds} s"),
                ("Clôture", lambda r: f"{r.wrap_up_seconds} s"),
            ),
            _store_queue,
            fill=_fill_agency_choice,
            order=(ExpertQueue.name,),
            label=lambda r: r.name,
        ),
        Entity(
            "counsellors",
            "Conseillers",
            "le conseiller",
            Counsellor,
            CounsellorForm,
            (
                ("Nom", lambda r: r.display_name),
                ("Identifiant", lambda r: r.id),
                ("Agence", _named(Agency, "agency_id", "name")),
                ("Poste", lambda r: r.station_id or "aucun"),
            ),
            _store_counsellor,
            service_of=lambda r: r.agency.service_code,
            fill=_fill_counsellor,
            load=lambda r: {
                "id": r.id,
                "display_name": r.display_name,
                "agency_id": r.agency_id,
                "station_id": r.station_id or "",
            },
            order=(Counsellor.display_name,),
            label=lambda r: r.display_name,
            note="Un nouveau conseiller reçoit un secret SIP aléatoire, affiché une fois.",
        ),
        Entity(
            "memberships",
            "Appartenance aux files",
            "l'appartenance",
            QueueMembership,
            MembershipForm,
            (
                ("Conseiller", lambda r: r.counsellor.display_name),
                ("File", lambda r: r.queue.name),
                ("Priorité", lambda r: r.priority),
            ),
            _store_membership,
            service_of=lambda r: r.queue.service_code,
            fill=_fill_membership,
            key=lambda r: f"{r.counsellor_id}~{r.queue_id}",
            parse_key=_membership_key,
            locked_on_edit=("counsellor_id", "queue_id"),
            order=(QueueMembership.queue_id, QueueMembership.priority),
            label=lambda r: f"{r.counsellor.display_name} dans {r.queue.name}",
        ),
        Entity(
            "routes",
            "Règles de routage",
            "la règle",
            RouteRule,
            RouteForm,
            (
                ("Règle", _route_text),
                ("File", _named(ExpertQueue, "queue_id", "name")),
                ("Plages", lambda r: " ; ".join(window_of(w) for w in r.windows) or "aucune"),
                ("N°", lambda r: r.id),
            ),
            _store_route,
            fill=_fill_route,
            parse_key=int,
            locked_on_edit=(),
            order=(RouteRule.site_id, RouteRule.service_code),
            warnings=_route_warnings,
            label=_route_text,
        ),
        Entity(
            "windows",
            "Plages d'ouverture",
            "la plage",
            OpeningWindow,
            WindowForm,
            (
                ("Règle", _route_of),
                ("Mode", lambda r: MODES.get(r.mode, r.mode)),
                ("Jours", lambda r: weekdays_text(r.weekdays)),
                ("Rang", lambda r: nth_text(r.nth) or "chaque semaine"),
                ("Heures", lambda r: f"{_time(r.start_time)}–{_time(r.end_time)}"),
                ("Validité", _validity),
                (
                    "Exclus",
                    lambda r: ", ".join(
                        _date(date.fromisoformat(d)) for d in r.except_dates.split(",") if d
                    ),
                ),
                ("N°", lambda r: r.id),
            ),
            _store_window,
            service_of=_window_service,
            fill=_fill_window,
            load=_window_load,
            parse_key=int,
            locked_on_edit=(),
            order=(OpeningWindow.route_id, OpeningWindow.id),
            label=_window_label,
        ),
        Entity(
            "closures",
            "Fermetures locales",
            "la fermeture",
            ClosureDay,
            ClosureForm,
            (
                ("Site", _named(Site, "site_id", "commune", "tous")),
                ("Service", lambda r: (r.service_code or "tous").upper()),
                ("Du", lambda r: _date(r.first_day)),
                ("Au", lambda r: _date(r.last_day)),
                ("Motif", lambda r: r.reason),
                ("N°", lambda r: r.id),
            ),
            _store_closure,
            fill=_fill_closure,
            load=_closure_load,
            parse_key=int,
            locked_on_edit=(),
            order=(ClosureDay.first_day,),
        ),
    )
}

# What a service manager may edit, limited to their service.
MANAGER_ENTITIES = {k: ENTITIES[k] for k in ("counsellors", "memberships", "windows")}
