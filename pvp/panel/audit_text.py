"""The audit log told in French: actions, tables and fields named, and only what changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pvp.model import AuditEntry
from pvp.panel.french import (
    APPOINTMENT_STATUS,
    CONSOLE_STATUS,
    MODES,
    PLAN_KINDS,
    fr_datetime,
    weekdays_text,
)

ACTIONS = {
    "create": "création",
    "update": "modification",
    "delete": "suppression",
    "book": "réservation",
    "move": "déplacement",
    "cancel": "annulation",
    "restore": "rétablissement",
    "no_show": "absence notée",
    "new_feed_link": "nouveau lien d'agenda",
    "new_secret": "nouveau secret SIP",
    "import": "import du plan",
    "login": "connexion",
    "status": "changement de statut",
}
TABLES = {
    "sites": "site",
    "kiosks": "borne",
    "services": "service",
    "agencies": "agence",
    "stations": "poste expert",
    "queues": "file d'experts",
    "counsellors": "conseiller",
    "memberships": "appartenance à une file",
    "routes": "règle de routage",
    "windows": "plage d'ouverture",
    "closures": "fermeture locale",
    "appointments": "rendez-vous",
    "counsellor_feeds": "agenda d'un conseiller",
    "counsellor_states": "statut d'un conseiller",
    "users": "compte",
    "plan": "plan",
}
FIELDS = {
    "id": "identifiant",
    "code": "code",
    "name": "nom",
    "display_name": "nom affiché",
    "commune": "commune",
    "community": "communauté de communes",
    "department_code": "département",
    "host_place": "lieu d'accueil",
    "agent_phone": "téléphone de l'agent",
    "agent_email": "courriel de l'agent",
    "pilot": "pilote",
    "site_id": "site",
    "service_code": "service",
    "agency_id": "agence",
    "station_id": "poste expert",
    "queue_id": "file",
    "counsellor_id": "conseiller",
    "route_id": "règle",
    "buttons": "boutons",
    "town": "ville",
    "label": "libellé",
    "strategy": "répartition",
    "max_wait_seconds": "attente maximale (s)",
    "no_answer_timeout_seconds": "délai de non-réponse (s)",
    "wrap_up_seconds": "clôture après appel (s)",
    "priority": "priorité",
    "mode": "mode",
    "default_mode": "mode par défaut",
    "weekdays": "jours",
    "nth": "rang dans le mois",
    "start_time": "ouverture",
    "end_time": "fermeture",
    "valid_from": "valable à partir du",
    "valid_until": "valable jusqu'au",
    "except_dates": "jours exclus",
    "note": "note",
    "first_day": "premier jour",
    "last_day": "dernier jour",
    "reason": "motif",
    "start": "début",
    "minutes": "durée (min)",
    "citizen_ref": "référence de l'usager",
    "status": "état",
    "created_at": "créé le",
    "created": "créés",
    "updated": "mis à jour",
    "login": "identifiant de connexion",
    "role": "rôle",
    "scope": "périmètre",
    "email": "courriel",
    "active": "actif",
    "console_status": "statut",
}
STATES = {**APPOINTMENT_STATUS, **CONSOLE_STATUS, **MODES}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def _value(key: str, value: Any, tz: ZoneInfo) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dict):  # an import's counts per table
        return ", ".join(f"{PLAN_KINDS.get(k, k)} : {v}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if key == "weekdays":
        return weekdays_text(str(value))
    if isinstance(value, str):
        if key in ("status", "mode", "default_mode", "console_status"):
            return STATES.get(value, value)
        for kind in (datetime, date, time):
            try:
                parsed = kind.fromisoformat(value)
            except ValueError:
                continue
            if isinstance(parsed, datetime):
                return fr_datetime(parsed, tz) if parsed.tzinfo else f"{parsed:%d/%m/%Y %H:%M}"
            return f"{parsed:%d/%m/%Y}" if isinstance(parsed, date) else f"{parsed:%H:%M}"
    return str(value)


def changes(entry: AuditEntry, tz: ZoneInfo) -> list[Change]:
    """What the entry changed, field by field (all fields for a creation or a deletion)."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [
        Change(
            FIELDS.get(k, k.replace("_", " ")),
            _value(k, before.get(k), tz) if k in before else "",
            _value(k, after.get(k), tz) if k in after else "",
        )
        for k in keys
        if before.get(k) != after.get(k) or not (before and after)
    ]


def action_text(entry: AuditEntry) -> str:
    return ACTIONS.get(entry.action, entry.action.replace("_", " "))


def table_text(entry: AuditEntry) -> str:
    return TABLES.get(entry.entity, entry.entity.replace("_", " "))
