"""French words for the panel: dates, statuses, and routing decisions told as sentences."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from pvp.calendar import WEEKDAYS
from pvp.routing import Decision, DecisionKind, Reason

DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
DAY_SHORT = {
    "mon": "lun",
    "tue": "mar",
    "wed": "mer",
    "thu": "jeu",
    "fri": "ven",
    "sat": "sam",
    "sun": "dim",
}
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
MONTHS_SHORT = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
MODES = {"appointment": "sur rendez-vous", "walk_in": "permanence (sans rendez-vous)"}
APPOINTMENT_STATUS = {
    "booked": "réservé",
    "checked_in": "arrivé",
    "seen": "reçu",
    "no_show": "absent",
    "cancelled": "annulé",
}
CONSOLE_STATUS = {"available": "disponible", "paused": "en pause", "offline": "hors ligne"}
OUTCOMES = {
    "served": "servi",
    "abandoned": "abandonné",
    "closed": "fermé",
    "no_counsellor": "aucun conseiller",
    "timed_out": "attente dépassée",
    "failed": "échec",
}


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["pvp.settings"].timezone)


def fr_date(value: date | None) -> str:
    if value is None:
        return ""
    return f"{DAYS[value.weekday()]} {value.day} {MONTHS[value.month - 1]} {value.year}"


def fr_datetime(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    if value is None:
        return ""
    local = value.astimezone(tz or _tz())
    return f"{fr_date(local.date())} à {local:%H:%M}"


def fr_time(value: datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(_tz()):%H:%M}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    minutes, sec = divmod(seconds, 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"


def decision_text(
    d: Decision, names: dict[str, str], tz: ZoneInfo, unanswered: frozenset[str] = frozenset()
) -> str:
    """What the switch will do with the press, as a sentence for the admin; ``unanswered``:
    the queues nobody is a member of."""
    until = fr_datetime(d.open_until, tz)
    nxt = fr_datetime(d.next_opening, tz) if d.next_opening else "aucune dans l'année"
    queue = names.get(d.queue or "", d.queue or "")
    if d.decision is DecisionKind.APPOINTMENT:
        who = names.get(d.counsellor or "", d.counsellor or "")
        return (
            f"Rendez-vous : l'appel va directement à {who} (rendez-vous n°{d.appointment}), "
            f"jusqu'à {until}."
        )
    if d.decision is DecisionKind.WALK_IN and d.queue in unanswered:
        return (
            f"Attention : permanence ouverte jusqu'à {until}, mais la file « {queue} » n'a "
            "aucun conseiller : personne ne peut répondre, l'appel attendrait en vain. "
            "Ajoutez des membres à la file ou routez le service vers une autre file."
        )
    if d.decision is DecisionKind.WALK_IN:
        return f"Permanence ouverte : l'appel rejoint la file « {queue} » jusqu'à {until}."
    if d.decision is DecisionKind.APPOINTMENT_REQUIRED:
        return (
            "Plage sur rendez-vous seulement et aucun rendez-vous à cette heure : l'appel "
            f"n'est pas passé. Prochaine plage de rendez-vous : {nxt}."
        )
    if d.decision is DecisionKind.CLOSED:
        why = {
            Reason.PUBLIC_HOLIDAY: f"jour férié ({d.detail})",
            Reason.LOCAL_CLOSURE: f"fermeture locale ({d.detail})",
        }.get(d.reason or Reason.OUTSIDE_WINDOWS, "hors des plages d'ouverture")
        return f"Fermé : {why}. L'appel n'est pas passé. Prochaine ouverture : {nxt}."
    if d.reason is Reason.NO_BUTTON:
        return "Cette borne n'a pas de bouton pour ce service."
    return "Aucune règle de routage pour ce service sur ce site."


def register_filters(app: Flask) -> None:
    app.add_template_filter(fr_date, "fr_date")
    app.add_template_filter(fr_datetime, "fr_datetime")
    app.add_template_filter(fr_time, "fr_time")
    app.add_template_filter(duration, "duration")
    app.jinja_env.globals.update(
        MODES=MODES,
        APPOINTMENT_STATUS=APPOINTMENT_STATUS,
        CONSOLE_STATUS=CONSOLE_STATUS,
        OUTCOMES=OUTCOMES,
        DAY_SHORT=DAY_SHORT,
        DECISIONS=DECISIONS,
        REASONS=REASONS,
    )
    app.add_template_filter(weekdays_text, "weekdays")
    app.add_template_filter(window_of, "window")
    app.add_template_filter(printer_reasons_text, "printer_reasons")
    app.jinja_env.globals["PRINTER_STATES"] = PRINTER_STATES
    app.jinja_env.globals["PLAN_KINDS"] = PLAN_KINDS


DAY_NAMES = dict(zip(WEEKDAYS, DAYS, strict=True))
DECISIONS = {
    "appointment": "rendez-vous",
    "walk_in": "permanence",
    "appointment_required": "sur rendez-vous seulement",
    "closed": "fermé",
    "no_such_service": "service non proposé",
}
REASONS = {
    "public_holiday": "jour férié",
    "local_closure": "fermeture locale",
    "outside_windows": "hors des plages",
    "appointment_only": "sur rendez-vous seulement",
    "no_button": "pas de bouton",
    "no_route": "aucune règle",
}


def weekdays_text(codes: str) -> str:
    """``"wed,thu"`` → ``"mercredi, jeudi"``."""
    return ", ".join(DAY_NAMES.get(c, c) for c in codes.split(",") if c)


def nth_text(nth: str) -> str:
    """``"4"`` → ``"4e"``, ``"1,3"`` → ``"1er et 3e"``, ``"-1"`` → ``"dernier"``."""
    words = [
        {"1": "1er", "-1": "dernier"}.get(n.strip(), f"{n.strip()}e")
        for n in nth.split(",")
        if n.strip()
    ]
    return f"{', '.join(words[:-1])} et {words[-1]}" if len(words) > 1 else "".join(words)


def hours_text(start: time, end: time) -> str:
    return f"{start.hour}:{start:%M}–{end.hour}:{end:%M}"


def window_text(weekdays: str, nth: str, start: time, end: time) -> str:
    """``"4e vendredi 9:00–12:00"``, ``"mercredi, jeudi 9:00–12:00"``."""
    days = weekdays_text(weekdays)
    prefix = f"{nth_text(nth)} " if nth else ""
    return f"{prefix}{days} {hours_text(start, end)}"


def window_of(window: Any) -> str:
    """An opening window (a row with weekdays, nth, start_time, end_time) as French words."""
    return window_text(window.weekdays, window.nth, window.start_time, window.end_time)


# PyYAML's problems (its messages are English and fixed), as a person editing a plan reads them.
PRINTER_STATES = {
    "idle": "prête",
    "processing": "impression en cours",
    "stopped": "arrêtée",
    "unknown": "état inconnu",
}


def printer_reasons_text(keywords: tuple[str, ...] | list[str]) -> str:
    """IPP printer-state-reasons (``media-empty-error``) as the site agent reads them."""
    # pvp.kiosk.printer needs pycups, a kiosk extra the control plane may lack.
    from pvp.kiosk.printer import problems_from_reasons

    shown = [k for k in keywords if k != "none"]
    return ", ".join(dict.fromkeys(p.reason for p in problems_from_reasons(shown)))


# The plan's tables, as an import report counts them (« 3 plages d'ouverture »).
PLAN_KINDS = {
    "departments": "départements",
    "services": "services",
    "sites": "sites",
    "kiosks": "bornes",
    "kiosk_buttons": "boutons de borne",
    "agencies": "agences",
    "expert_stations": "postes experts",
    "expert_queues": "files d'experts",
    "counsellors": "conseillers",
    "queue_memberships": "appartenances aux files",
    "route_rules": "règles de routage",
    "opening_windows": "plages d'ouverture",
    "closures": "fermetures locales",
}
