"""The region admin's area: the plan's tables, the routing preview, plan import and export,
public holidays and the audit log."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, render_template, request
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import InputRequired

from pvp.calendar import french_holidays
from pvp.model import AuditEntry, Counsellor, ExpertQueue, Kiosk, Role, Service, Site
from pvp.panel import audit_text
from pvp.panel.crud import register_crud
from pvp.panel.entities import ENTITIES
from pvp.panel.forms import PanelForm, opts
from pvp.panel.french import decision_text
from pvp.panel.plan_export import dump_yaml, export_plan
from pvp.panel.plan_french import plan_problem_text
from pvp.panel.security import db, me, panel_blueprint, settings
from pvp.plan import PlanError, parse_plan_text
from pvp.plan_view import load_routing_plan
from pvp.routing import decide
from pvp.services import plan as plan_service

bp = panel_blueprint("admin", "/admin", roles=(Role.REGION_ADMIN,))
register_crud(bp, ENTITIES, lambda: None)


@bp.get("/")
def index() -> Any:
    return render_template("admin/index.html", entities=ENTITIES.values())


class PreviewForm(PanelForm):
    kiosk = SelectField("Borne")
    service = SelectField("Service")
    at = DateTimeLocalField(
        "Date et heure",
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message="date et heure obligatoires")],
    )


@bp.get("/preview")
def preview() -> Any:
    """The decision the switch would take for a press: the very routing function it uses."""
    tz = ZoneInfo(settings().timezone)
    form = PreviewForm(request.args, meta={"csrf": False})
    decision = text = None
    unanswered = False
    names: dict[str, str] = {}
    with db().sessions() as session:
        form.kiosk.choices = opts(
            (k, k) for k in session.scalars(select(Kiosk.id).order_by(Kiosk.id))
        )
        form.service.choices = opts(
            (s.code, s.name) for s in session.scalars(select(Service).order_by(Service.code))
        )
        submitted = bool(request.args)
        if submitted and form.validate():
            at = form.at.data.replace(tzinfo=tz)
            plan = load_routing_plan(session, settings(), since=at - timedelta(days=1))
            decision = decide(plan, form.kiosk.data, form.service.data, at)
            names = {c.id: c.display_name for c in session.scalars(select(Counsellor))}
            queues = session.scalars(select(ExpertQueue)).all()
            names.update({q.id: q.name for q in queues})
            names.update({s.id: s.commune for s in session.scalars(select(Site))})
            empty = frozenset(q.id for q in queues if not q.memberships)
            text = decision_text(decision, names, tz, empty)
            unanswered = decision.queue in empty
    status = 400 if form.errors else 200
    return render_template(
        "admin/preview.html",
        form=form,
        decision=decision,
        text=text,
        names=names,
        unanswered=unanswered,
    ), status


class ImportForm(PanelForm):
    file = FileField("Fichier du plan (YAML)")
    text = TextAreaField("… ou le plan collé ici", render_kw={"rows": 8, "cols": 90})


@bp.get("/plan.yaml")
def plan_export() -> Any:
    with db().sessions() as session:
        plan, warnings = export_plan(session, name=f"Export PVP du {date.today():%d/%m/%Y}")
    body = dump_yaml(plan)
    if warnings:
        body = "".join(f"# ATTENTION : {w}\n" for w in warnings) + body
    return Response(
        body,
        mimetype="application/yaml",
        headers={"Content-Disposition": "attachment; filename=plan-pvp.yaml"},
    )


# The import runs on the request's thread: bounded so that it stays well under xml_curl's
# timeout (a 505 KiB plan loads in 0.5 s on 2 busy cores; README, security figures).
PANEL_PLAN_MAX = 512 * 1024
TOO_BIG_FOR_PANEL = (
    "plan trop grand pour le panneau ({kib} Kio, au plus 512 Kio) : "
    "importez-le avec « pvp provision import »"
)


@bp.route("/plan", methods=["GET", "POST"])
def plan_page() -> Any:
    form = ImportForm()
    problems: list[str] = []
    report = None
    with db().sessions() as session:
        _plan, warnings = export_plan(session)
    if form.validate_on_submit():
        upload = form.file.data
        source = upload.filename if upload else "texte collé"
        raw_text = upload.read().decode("utf-8", "replace") if upload else form.text.data or ""
        try:
            if not raw_text.strip():
                raise PlanError(source, ["aucun plan fourni : choisissez un fichier ou collez-le"])
            if len(raw_text) > PANEL_PLAN_MAX:
                raise PlanError(source, [TOO_BIG_FOR_PANEL.format(kib=len(raw_text) // 1024)])
            plan = parse_plan_text(raw_text, source)
            with db().session() as session:
                report = plan_service.import_plan(
                    session, plan, settings().sip_domain, source, actor=me().login
                )
        except IntegrityError as exc:
            problems = [f"conflit avec la base : {exc.orig}"]
            flash("Plan refusé, rien n'a été importé.", "error")
        except PlanError as exc:
            problems = [plan_problem_text(p) for p in exc.problems]
            flash(f"Plan refusé, rien n'a été importé : {len(problems)} problème(s).", "error")
        else:
            flash(
                "Plan importé." if report.changed else "Plan identique : rien n'a changé.",
                "success",
            )
    status = 400 if problems else 200
    return render_template(
        "admin/plan.html", form=form, problems=problems, report=report, warnings=warnings
    ), status


@bp.get("/holidays")
def holidays() -> Any:
    year = request.args.get("year", type=int) or datetime.now().year
    year = min(max(year, 2000), 2100)
    table = french_holidays()
    _ = date(year, 1, 1) in table  # the library computes a year on its first look-up
    days = sorted((d, str(name)) for d, name in table.items() if d.year == year)
    return render_template("admin/holidays.html", year=year, days=days)


@bp.get("/audit")
def audit_log() -> Any:
    """The last changes, newest first; filtered by person, action or table."""
    tz = ZoneInfo(settings().timezone)
    wanted = {k: request.args.get(k, "") for k in ("actor", "action", "entity")}
    where = [getattr(AuditEntry, k) == v for k, v in wanted.items() if v]
    with db().sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(*where).order_by(AuditEntry.id.desc()).limit(300)
        ).all()
        actors = session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor))
        rows = [
            (e, audit_text.action_text(e), audit_text.table_text(e), audit_text.changes(e, tz))
            for e in entries
        ]
        return render_template(
            "admin/audit.html",
            rows=rows,
            wanted=wanted,
            actors=list(actors),
            actions=audit_text.ACTIONS,
            tables=audit_text.TABLES,
        )
