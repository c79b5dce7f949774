"""The evaluation ("résultats de l'évaluation"): usage, waits and outcomes per site, service
and month, with charts and a CSV export. The region admin sees every service; a service
manager sees theirs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from flask import Response, render_template, request
from sqlalchemy import select
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from pvp.model import Role, Service, Site
from pvp.panel.charts import bar_chart
from pvp.panel.forms import PanelForm, opts
from pvp.panel.french import MONTHS_SHORT
from pvp.panel.security import db, panel_blueprint, service_scope
from pvp.panel.stats import Figures, Filters, aggregate, evaluate

bp = panel_blueprint("evaluation", "/evaluation", roles=(Role.REGION_ADMIN, Role.SERVICE_MANAGER))

# (header, attribute, decimals or None for a count); shares are written in percent.
CSV_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("site", "site", None),
    ("commune", "commune", None),
    ("service", "service", None),
    ("mois", "month", None),
    ("appels", "calls", None),
    ("servis", "served", None),
    ("abandonnés", "abandoned", None),
    ("appuis_fermés", "closed", None),
    ("attente_médiane_s", "median_wait", 1),
    ("attente_p90_s", "p90_wait", 1),
    ("conversation_médiane_s", "median_talk", 1),
    ("servis_sur_rdv", "appointment_calls", None),
    ("servis_sans_rdv", "walk_in_calls", None),
    ("part_rdv_pct", "appointment_share", 1),
    ("rdv_passés", "past_appointments", None),
    ("absences", "no_shows", None),
    ("taux_absence_pct", "no_show_rate", 1),
    ("documents", "documents", None),
)
PERCENT = ("appointment_share", "no_show_rate")


def french_number(value: float | None, decimals: int) -> str:
    """``18.8`` → ``"18,8"``: French spreadsheets read a decimal comma as a number (a point
    makes "18.800" eighteen thousand eight hundred)."""
    if value is None:
        return ""
    return f"{value:.{decimals}f}".replace(".", ",")


def month_label(month: str | None) -> str:
    """``"2006-11"`` → ``"nov. 2006"``."""
    if not month:
        return ""
    year, number = month.split("-")
    return f"{MONTHS_SHORT[int(number) - 1]} {year}"


class FilterForm(PanelForm):
    year = IntegerField(
        "Année", validators=[Optional(), NumberRange(2000, 2100, message="entre 2000 et 2100")]
    )
    site = SelectField("Site", default="")
    service = SelectField("Service", default="")


def _filters() -> tuple[FilterForm, Filters | None]:
    form = FilterForm(request.args, meta={"csrf": False})
    scope = service_scope()
    with db().sessions() as session:
        form.site.choices = opts([("", "tous")]) + opts(
            (s.id, s.commune) for s in session.scalars(select(Site).order_by(Site.commune))
        )
        services = session.scalars(select(Service).order_by(Service.code)).all()
    form.service.choices = opts([("", "tous")] * (scope is None)) + opts(
        (s.code, s.name) for s in services if scope is None or s.code == scope
    )
    if scope is not None:
        form.service.data = scope  # a manager's figures are their service's, whatever asked
    if not form.validate():
        return form, None
    year = form.year.data or datetime.now(UTC).year
    form.year.data = year
    return form, Filters(year, form.site.data or None, form.service.data or None)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}\u202f%"  # a narrow no-break space


@bp.get("/")
def index() -> Any:
    form, f = _filters()
    if f is None:
        return render_template("evaluation.html", form=form, groups=[], charts=[], total=None), 400
    with db().sessions() as session:
        levels = evaluate(
            session, f, [(), ("month",), ("site", "service"), ("site", "service", "month")]
        )
        communes = {s.id: s.commune for s in session.scalars(select(Site))}
        service_names = {s.code: s.name for s in session.scalars(select(Service))}
    total = levels[()]
    by_month = {r.month: r for r in levels[("month",)]}
    months_of: dict[tuple[str | None, str | None], list[Figures]] = {}
    for r in levels[("site", "service", "month")]:
        months_of.setdefault((r.site, r.service), []).append(r)
    # One group per site and service (by commune), its subtotal first, then its months.
    groups = sorted(
        ((sub, months_of.get((sub.site, sub.service), [])) for sub in levels[("site", "service")]),
        key=lambda g: (communes.get(g[0].site or "", g[0].site or ""), g[0].service or ""),
    )
    months = [f"{f.year}-{m:02d}" for m in range(1, 13)]
    labels = list(MONTHS_SHORT)
    empty = Figures()

    def series(attr: str) -> list[float | None]:
        return [getattr(by_month.get(m, empty), attr) for m in months]

    # Presses placed but neither served nor abandoned: timed out, no counsellor, failed.
    other: list[float | None] = [
        r.calls - r.served - r.abandoned - r.closed
        for r in (by_month.get(m, empty) for m in months)
    ]

    def chart(
        title: str, parts: list[tuple[str, str, list[float | None]]], **kw: Any
    ) -> dict[str, Any]:
        return {"title": title, "svg": bar_chart(title, labels, parts, **kw)}

    minutes: list[list[float | None]] = [
        [v / 60 if v else 0.0 for v in series(attr)] for attr in ("median_wait", "p90_wait")
    ]
    shown = [
        chart(
            "Appels par mois",
            [
                ("servis", "#2e7d32", series("served")),
                ("abandonnés", "#ef6c00", series("abandoned")),
                ("fermés", "#90a4ae", series("closed")),
                ("autres", "#c62828", other),
            ],
        ),
        chart(
            "Attente par mois (appels servis)",
            [
                ("médiane", "#004a7c", minutes[0]),
                ("90e centile", "#7fa7c9", minutes[1]),
            ],
            stacked=False,
            unit=" min",
        ),
        chart(
            "Servis sur rendez-vous et sans rendez-vous",
            [
                ("sur rendez-vous", "#6a1b9a", series("appointment_calls")),
                ("permanence", "#00897b", series("walk_in_calls")),
            ],
        ),
    ]
    return render_template(
        "evaluation.html",
        form=form,
        groups=groups,
        communes=communes,
        service_names=service_names,
        month_label=month_label,
        charts=shown,
        total=total[0] if total else Figures(),
        pct=_pct,
        filters=f,
    )


@bp.get("/export.csv")
def export_csv() -> Any:
    form, f = _filters()
    if f is None:
        return Response("; ".join(form.error_lines()), status=400, mimetype="text/plain")
    with db().sessions() as session:
        rows = aggregate(session, ("site", "service", "month"), f)
        communes = {s.id: s.commune for s in session.scalars(select(Site))}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([name for name, _a, _d in CSV_COLUMNS])
    for r in rows:
        line: list[Any] = []
        for _name, attr, decimals in CSV_COLUMNS:
            if attr == "commune":
                line.append(communes.get(r.site or "", r.site))
            elif decimals is None:
                line.append(getattr(r, attr))
            else:
                value = getattr(r, attr)
                if attr in PERCENT and value is not None:
                    value *= 100
                line.append(french_number(value, decimals))
        writer.writerow(line)
    name = f"evaluation-pvp-{f.year}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
