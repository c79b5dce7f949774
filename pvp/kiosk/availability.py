"""What each service button of the idle screen says, from the control plane's decisions.

The decisions are fetched from ``/api/v1/kiosks/<id>/availability`` and kept on disk, so the
idle screen still says something true when the control plane cannot be reached: a cached
answer is re-read against the current time (an opening instant passed means open now).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from pvp.common.fsutil import write_atomically
from pvp.kiosk import french

log = logging.getLogger("pvp.kiosk.availability")

REASONS = {
    "public_holiday": "jour férié",
    "local_closure": "fermeture exceptionnelle",
    "outside_windows": "en dehors des heures d'ouverture",
    "appointment_only": "sur rendez-vous uniquement",
}


@dataclass(frozen=True)
class ButtonStatus:
    service: str
    label: str
    open: bool  # a press will reach someone now
    text: str  # "Ouvert maintenant", "Ouvre mercredi 15 novembre à 9 h 00"...
    decision: dict[str, Any]


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def describe(decision: dict[str, Any], label: str, now: datetime) -> ButtonStatus:
    """The button's wording for ``decision`` (possibly cached earlier) at ``now``. Pure."""
    kind = decision.get("decision")
    until, nxt = _instant(decision.get("open_until")), _instant(decision.get("next_opening"))
    service = str(decision.get("service", ""))

    def status(is_open: bool, text: str) -> ButtonStatus:
        return ButtonStatus(service, label, is_open, text, decision)

    if kind in ("walk_in", "appointment") and (until is None or now < until):
        return status(True, "Ouvert maintenant" if kind == "walk_in" else "Votre rendez-vous")
    if kind == "appointment_required" and until and now < until:
        return status(True, "Sur rendez-vous")
    if nxt is not None and nxt <= now:
        return status(True, "Ouvert maintenant")  # the cached closure has ended
    if kind == "no_such_service":
        return status(False, "Service indisponible")
    if decision.get("reason") == "appointment_only":
        return status(False, "Sur rendez-vous uniquement")
    if nxt is None:
        return status(False, "Fermé")
    detail = decision.get("detail")
    why = f" ({detail})" if detail else ""
    return status(False, f"Fermé{why} — ouvre {french.opening(nxt, now)}")


class AvailabilityCache:
    """The last availability answer of the control plane, on disk."""

    def __init__(
        self, base_url: str, kiosk: str, path: Path, session: requests.Session, timeout: float = 3.0
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/api/v1/kiosks/{kiosk}/availability"
        self.path = path
        self.session = session
        self.timeout = timeout

    def refresh(self) -> bool:
        """Fetch and keep a new answer; False (and the cache kept) if it cannot be had."""
        try:
            answer = self.session.get(self.url, timeout=self.timeout)
            answer.raise_for_status()
            body = answer.json()
            if not isinstance(body.get("services"), list):
                raise ValueError("no services list in the answer")
        except (requests.RequestException, ValueError) as exc:
            log.warning("availability not refreshed: %s", exc)
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(body).encode())  # never a half-written cache
        return True

    def site_agent_phone(self) -> str | None:
        """The help number of the last answer (None before any, or from an older server)."""
        try:
            phone = json.loads(self.path.read_text()).get("site_agent_phone")
        except (OSError, ValueError, AttributeError):
            return None
        return phone if isinstance(phone, str) else None

    def decisions(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.path.read_text())["services"])
        except (OSError, ValueError, KeyError, TypeError):
            return []
