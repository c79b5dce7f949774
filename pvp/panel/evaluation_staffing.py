"""The evaluation's staffing section (Erlang C per permanence window) and its CSV export.

Kept apart from :mod:`pvp.panel.evaluation`'s table: the page includes
``evaluation_staffing.html``, which calls :func:`staffing_section` with the page's filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, request
from wtforms import IntegerField
from wtforms.validators import NumberRange, Optional

from pvp.panel.evaluation import _filters, bp
from pvp.panel.forms import PanelForm
from pvp.panel.security import db, settings
from pvp.panel.staffing_figures import (
    DEFAULT_SHARE,
    DEFAULT_TARGET_SECONDS,
    WindowStaffing,
    staffing,
    to_csv,
    wait_today,
)
from pvp.panel.stats import Filters


class TargetForm(PanelForm):
    cible = IntegerField(
        "Attente cible (s)",
        default=DEFAULT_TARGET_SECONDS,
        validators=[Optional(), NumberRange(0, 3600, message="entre 0 et 3600 secondes")],
        description="Le temps d'attente que l'on s'engage à ne pas dépasser.",
    )
    part = IntegerField(
        "Part des appels (%)",
        default=round(100 * DEFAULT_SHARE),
        validators=[Optional(), NumberRange(50, 99, message="entre 50 et 99 %%")],
        description="La part des appelants à servir dans l'attente cible (80 % est l'usage).",
    )


@dataclass(frozen=True)
class Section:
    form: TargetForm
    rows: list[WindowStaffing]
    target: int
    share: int


def _target() -> tuple[TargetForm, int, int] | tuple[TargetForm, None, None]:
    """The target from the query (defaults when absent); ``None`` values if it is invalid."""
    form = TargetForm(request.args, meta={"csrf": False})
    if not form.validate():
        return form, None, None
    target = DEFAULT_TARGET_SECONDS if form.cible.data is None else form.cible.data
    share = round(100 * DEFAULT_SHARE) if form.part.data is None else form.part.data
    form.cible.data, form.part.data = target, share
    return form, target, share


def staffing_section(f: Filters | None) -> Section | None:
    """The section's rows for the page's filters; its form carries its own errors."""
    if f is None:
        return None
    form, target, share = _target()
    if target is None or share is None:
        return Section(form, [], 0, 0)
    with db().sessions() as session:
        rows = staffing(session, f, ZoneInfo(settings().timezone), target, share / 100)
    return Section(form, rows, target, share)


@bp.app_context_processor
def _section() -> dict[str, Any]:
    return {"staffing_section": staffing_section, "wait_today": wait_today}


@bp.get("/staffing.csv")
def staffing_csv() -> Any:
    form, f = _filters()
    target_form, target, share = _target()
    if f is None or target is None or share is None:
        problems = "; ".join(form.error_lines() + target_form.error_lines())
        return Response(problems, status=400, mimetype="text/plain")
    with db().sessions() as session:
        rows = staffing(session, f, ZoneInfo(settings().timezone), target, share / 100)
    name = f"effectifs-pvp-{f.year}.csv"
    return Response(
        to_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
