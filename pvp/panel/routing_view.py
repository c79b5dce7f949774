"""Who answers a service at a site ("qui répond à la MSA à Vorey"): queue, members and route
rule in one form.

The form picks one of the service's queues (or creates one), sets its timers, ticks its
members and points the site's route rule at it, in one transaction through the plan's own
writers (:mod:`pvp.panel.entities`), with one audit entry. A queue without members is refused
(nobody could ever answer); members of whom none is registered and available right now is a
warning, shown before and after publishing. The region admin reaches every site and service;
a service manager their service only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from pvp.model import (
    Agency,
    ConsoleStatus,
    Counsellor,
    CounsellorState,
    ExpertQueue,
    Kiosk,
    KioskButton,
    QueueMembership,
    Role,
    RouteRule,
    Service,
    Site,
)
from pvp.panel.entities.staff import seconds_field
from pvp.panel.forms import CheckboxesField, FieldError, PanelForm, opts
from pvp.panel.security import db, me, panel_blueprint, require, service_scope
from pvp.plan import IDENT
from pvp.services import audit, plan
from pvp.services.plan_rows import store_membership, store_queue, store_route

bp = panel_blueprint("routing", "/routing", roles=(Role.REGION_ADMIN, Role.SERVICE_MANAGER))

NEW_QUEUE = "__nouvelle__"
# Defaults of a new queue: the model's, said once here for the form and its hints.
DEFAULT_MAX_WAIT = 900
DEFAULT_RING = 20
DEFAULT_WRAP_UP = 60


class RoutingForm(PanelForm):
    queue_id = SelectField("File d'experts qui répond")
    id = StringField(
        "Identifiant de la nouvelle file",
        validators=[
            Optional(),
            Regexp(IDENT, message="minuscules, chiffres, point ou tiret (63 caractères au plus)"),
        ],
        description="Seulement pour une nouvelle file, par exemple « msa-43-vorey ».",
    )
    name = StringField(
        "Nom de la nouvelle file",
        validators=[Length(max=160)],
        description="Seulement pour une nouvelle file, par exemple « MSA Haute-Loire ».",
    )
    # Read only for a new queue, and checked then (a browser always sends the first one).
    agency_id = SelectField("Agence de la nouvelle file", validate_choice=False)
    strategy = SelectField(
        "Répartition des appels",
        choices=opts(
            [("longest_idle", "le plus longtemps libre"), ("round_robin", "à tour de rôle")]
        ),
        description="« Le plus longtemps libre » répartit la charge entre les conseillers.",
    )
    no_answer_timeout_seconds = seconds_field(
        "Durée de sonnerie (s)",
        5,
        300,
        DEFAULT_RING,
        f"Temps pendant lequel un conseiller est appelé avant que l'appel passe au suivant. "
        f"Par défaut {DEFAULT_RING} s.",
    )
    wrap_up_seconds = seconds_field(
        "Temps de clôture après un appel (s)",
        0,
        3600,
        DEFAULT_WRAP_UP,
        f"Temps laissé au conseiller après un appel (notes, courrier) avant de lui en "
        f"proposer un autre. Par défaut {DEFAULT_WRAP_UP} s.",
    )
    max_wait_seconds = seconds_field(
        "Attente maximale de l'usager (s)",
        1,
        4 * 3600,
        DEFAULT_MAX_WAIT,
        f"Au-delà, la borne annonce que personne n'a pu répondre et l'appel se termine. "
        f"Par défaut {DEFAULT_MAX_WAIT} s (15 min).",
    )
    members = CheckboxesField(
        "Conseillers membres de la file",
        render_kw={"class": "checks"},
        description="Ils reçoivent les appels de la file quand ils sont connectés et disponibles.",
    )


# What the plan writers call a field, as this form names it.
_FIELDS = {"service_code": "queue_id", "counsellor_id": "members"}


@dataclass(frozen=True)
class Pair:
    site: Site
    service: Service
    route: RouteRule | None
    queue: ExpertQueue | None
    members: int
    answering: int  # members registered and available now

    @property
    def warning(self) -> str:
        if self.route is None:
            return "aucune règle : le bouton ne donne rien"
        if self.members == 0:
            return "file sans membre : personne ne peut répondre"
        if self.answering == 0:
            return "aucun membre connecté et disponible en ce moment"
        return ""


def _answering(session: Session, queue_id: str) -> tuple[int, int]:
    """(members, members registered and available now) of a queue."""
    rows = session.execute(
        select(CounsellorState.registered, CounsellorState.console_status)
        .select_from(QueueMembership)
        .outerjoin(CounsellorState, CounsellorState.counsellor_id == QueueMembership.counsellor_id)
        .where(QueueMembership.queue_id == queue_id)
    ).all()
    ready = sum(1 for reg, status in rows if reg and status == ConsoleStatus.AVAILABLE.value)
    return len(rows), ready


def _pair(session: Session, site: Site, service: Service) -> Pair:
    route = session.scalars(
        select(RouteRule).where(
            RouteRule.site_id == site.id, RouteRule.service_code == service.code
        )
    ).first()
    queue = session.get(ExpertQueue, route.queue_id) if route else None
    members, ready = _answering(session, queue.id) if queue else (0, 0)
    return Pair(site, service, route, queue, members, ready)


def _pairs(session: Session) -> list[Pair]:
    """Every site and service that a kiosk of the site has a button for, in the user's scope."""
    scope = service_scope()
    where = [KioskButton.service_code == scope] if scope else []
    found = session.execute(
        select(Kiosk.site_id, KioskButton.service_code).join(KioskButton).where(*where).distinct()
    ).all()
    sites = {s.id: s for s in session.scalars(select(Site))}
    services = {s.code: s for s in session.scalars(select(Service))}
    pairs = [_pair(session, sites[a], services[b]) for a, b in set(found)]
    return sorted(pairs, key=lambda p: (p.site.commune, p.service.name))


def _load(session: Session, site_id: str, code: str) -> tuple[Site, Service]:
    site, service = session.get(Site, site_id), session.get(Service, code)
    if site is None or service is None:
        abort(404)
    scope = service_scope()
    require(scope is None or scope == code)
    has_button = session.scalars(
        select(KioskButton)
        .join(Kiosk)
        .where(Kiosk.site_id == site_id, KioskButton.service_code == code)
    ).first()
    if has_button is None:
        abort(404)
    return site, service


def _fill(session: Session, form: RoutingForm, service: str) -> None:
    queues = session.scalars(
        select(ExpertQueue).where(ExpertQueue.service_code == service).order_by(ExpertQueue.name)
    )
    form.queue_id.choices = opts(
        [(q.id, f"{q.name} ({q.id})") for q in queues] + [(NEW_QUEUE, "nouvelle file…")]
    )
    agencies = session.scalars(
        select(Agency).where(Agency.service_code == service).order_by(Agency.name)
    ).all()
    form.agency_id.choices = opts((a.id, a.name) for a in agencies)
    people = session.scalars(
        select(Counsellor)
        .join(Agency)
        .where(Agency.service_code == service)
        .order_by(Counsellor.display_name)
    )
    form.members.choices = opts((c.id, f"{c.display_name} ({c.agency.town})") for c in people)


def _current(pair: Pair) -> dict[str, Any]:
    """The form's values for what is published now (a new route: the defaults)."""
    q = pair.queue
    if q is None:
        return {"queue_id": NEW_QUEUE}
    return {
        "queue_id": q.id,
        "strategy": q.strategy,
        "no_answer_timeout_seconds": q.no_answer_timeout_seconds,
        "wrap_up_seconds": q.wrap_up_seconds,
        "max_wait_seconds": q.max_wait_seconds,
        "members": [m.counsellor_id for m in q.memberships],
    }


def priorities(form: RoutingForm, sent: Mapping[str, str]) -> dict[str, int]:
    """Each listed counsellor's priority in the queue (1 is offered calls first), from the
    ``priority-<counsellor>`` inputs beside the member boxes; 1 when absent."""
    found = {}
    for choice in form.members.choices:
        text = (sent.get(f"priority-{choice.value}") or "1").strip()
        if not text.isdigit() or not 1 <= int(text) <= 9:
            raise FieldError("members", f"priorité de {choice.label} : un nombre entre 1 et 9")
        found[choice.value] = int(text)
    return found


def _publish(
    session: Session,
    site: Site,
    service: Service,
    form: RoutingForm,
    ranks: Mapping[str, int],
) -> ExpertQueue:
    """Queue, memberships and route rule from the form; raises :class:`FieldError`."""
    timers = {
        "strategy": form.strategy.data,
        "no_answer_timeout_seconds": form.no_answer_timeout_seconds.data,
        "wrap_up_seconds": form.wrap_up_seconds.data,
        "max_wait_seconds": form.max_wait_seconds.data,
    }
    if form.queue_id.data == NEW_QUEUE:
        if not form.id.data or not (form.name.data or "").strip():
            field = "id" if not form.id.data else "name"
            raise FieldError(field, "obligatoire pour une nouvelle file")
        if form.agency_id.data not in {c.value for c in form.agency_id.choices}:
            raise FieldError("agency_id", "choisissez une agence du service")
        queue = store_queue(
            session,
            None,
            dict(id=form.id.data, agency_id=form.agency_id.data, name=form.name.data, **timers),
        )
    else:
        existing = session.get(ExpertQueue, form.queue_id.data)
        assert existing is not None  # a SelectField admits only the listed queues
        queue = store_queue(
            session,
            existing,
            dict(agency_id=existing.agency_id, name=existing.name, **timers),
        )
    session.flush()
    wanted = set(form.members.data or [])
    if not wanted:
        raise FieldError(
            "members",
            "personne ne pourrait répondre : choisissez au moins un conseiller membre de la file",
        )
    have = {}
    for m in list(queue.memberships):
        if m.counsellor_id in wanted:
            have[m.counsellor_id] = m
        else:
            session.delete(m)
    for counsellor in sorted(wanted):
        store_membership(
            session,
            have.get(counsellor),
            dict(counsellor_id=counsellor, queue_id=queue.id, priority=ranks[counsellor]),
        )
    route = session.scalars(
        select(RouteRule).where(
            RouteRule.site_id == site.id, RouteRule.service_code == service.code
        )
    ).first()
    store_route(
        session,
        route,
        dict(site_id=site.id, service_code=service.code, queue_id=queue.id),
    )
    return queue


def _snapshot(session: Session, site: Site, service: Service) -> dict[str, Any]:
    pair = _pair(session, site, service)
    q = pair.queue
    return {
        "route": audit.snapshot(pair.route),
        "queue": audit.snapshot(q),
        "members": sorted(m.counsellor_id for m in q.memberships) if q else [],
        "priorities": {m.counsellor_id: m.priority for m in q.memberships} if q else {},
    }


@bp.get("/")
def index() -> Any:
    with db().sessions() as session:
        pairs = _pairs(session)
        return render_template("routing/index.html", pairs=pairs)


@bp.route("/<site_id>/<code>", methods=["GET", "POST"])
def edit(site_id: str, code: str) -> Any:
    with db().sessions() as session:
        site, service = _load(session, site_id, code)
        pair = _pair(session, site, service)
        form = RoutingForm(data=_current(pair))
        _fill(session, form, service.code)
        if form.validate_on_submit():
            before = _snapshot(session, site, service)
            try:
                published = priorities(form, request.form)
                queue = _publish(session, site, service, form, published)
                session.flush()
                session.expire_all()
                after = _snapshot(session, site, service)
                key = f"{site.id}/{service.code}"
                action = "publish_routing"
                plan.changed(session, action, "route_rules", key, before, after, actor=me().login)
                session.commit()
            except FieldError as exc:
                session.rollback()
                form.fail(form[_FIELDS.get(exc.field, exc.field)], str(exc))
            except IntegrityError:
                session.rollback()
                form.fail(form.queue_id, "conflit avec un élément existant")
            else:
                flash(
                    f"Publié : la file « {queue.name} » répond à {service.name} à "
                    f"{site.commune} dès le prochain appel.",
                    "success",
                )
                members, ready = _answering(session, queue.id)
                if ready == 0:
                    flash(
                        f"Attention : aucun des {members} membres de la file n'est connecté "
                        "et disponible en ce moment ; les usagers attendront qu'un conseiller "
                        "se rende disponible.",
                        "error",
                    )
                return redirect(url_for("routing.edit", site_id=site.id, code=service.code), 303)
        status = 400 if form.errors else 200
        shown = _pair(session, site, service)
        # The priorities shown: as sent when the form comes back, else as published.
        ranks: dict[str, str] = {}
        if request.method == "POST":
            ranks = {
                c.value: request.form.get(f"priority-{c.value}", "1") for c in form.members.choices
            }
        elif shown.queue:
            ranks = {m.counsellor_id: str(m.priority) for m in shown.queue.memberships}
        return render_template(
            "routing/edit.html", form=form, pair=shown, new_queue=NEW_QUEUE, ranks=ranks
        ), status
