"""What the plan's editable tables share: field checks, choices and the lists' cell texts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from wtforms.validators import DataRequired, InputRequired, Regexp

from pvp.calendar import WEEKDAYS
from pvp.model import OpeningWindow
from pvp.panel.forms import opts
from pvp.panel.french import DAY_NAMES, MODES
from pvp.plan import IDENT

IDENT_CHECK = Regexp(IDENT, message="minuscules, chiffres, point ou tiret (63 caractères au plus)")
REQUIRED = DataRequired(message="ce champ est obligatoire")
MODE_CHOICES = opts(MODES.items())
DAY_CHOICES = opts((d, DAY_NAMES[d]) for d in WEEKDAYS)
DATE_REQUIRED = InputRequired(message="date obligatoire")
STRATEGIES = {"longest_idle": "le plus longtemps libre", "round_robin": "à tour de rôle"}


def choices(session: Session, model: Any, label: Any, *where: Any) -> list[Any]:
    rows = session.scalars(select(model).where(*where))
    key = model.__table__.primary_key.columns.keys()[0]
    return opts(sorted((str(getattr(r, key)), label(r)) for r in rows))


def time_text(t: Any) -> str:
    return t.strftime("%H:%M") if t else ""


def named(model: Any, attr: str, name: str, empty: str = "") -> Callable[[Any], str]:
    """A column showing the name of the row that ``attr`` refers to (not its id)."""

    def cell(row: Any) -> str:
        ident = getattr(row, attr)
        session = object_session(row)
        other = session.get(model, ident) if session is not None and ident else None
        return getattr(other, name) if other is not None else (ident or empty)

    return cell


def day_text(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else ""


def excluded_text(w: OpeningWindow) -> str:
    return ", ".join(day_text(date.fromisoformat(d)) for d in w.except_dates.split(",") if d)


def validity_text(w: OpeningWindow) -> str:
    if w.valid_from and w.valid_until:
        return f"du {day_text(w.valid_from)} au {day_text(w.valid_until)}"
    if w.valid_from:
        return f"à partir du {day_text(w.valid_from)}"
    if w.valid_until:
        return f"jusqu'au {day_text(w.valid_until)}"
    return "toujours"
