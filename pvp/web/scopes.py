"""What each caller of the JSON API may see: the panel's matrix applied to the API.

A region admin sees everything; a service manager their service; a site agent their site's
kiosks; a counsellor the queues they serve, without other counsellors' calls; a kiosk only
itself. The views ask these functions and answer 403 (or filter a list) accordingly.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g
from sqlalchemy import select

from pvp.db import Database
from pvp.model import ExpertQueue, QueueMembership, Role


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def person_role() -> Role | None:
    """The signed-in person's role; ``None`` for a kiosk."""
    person = g.get("person")
    return Role(person.role) if person is not None else None


def may_see_kiosk(kiosk: str, site: str, service: str | None = None) -> bool:
    """May the caller read about ``kiosk`` (at ``site``), for ``service`` when given?"""
    device = g.get("device")
    if device is not None:
        return bool(device == kiosk)
    role, scope = person_role(), g.person.scope
    if role is Role.REGION_ADMIN:
        return True
    if role is Role.SITE_AGENT:
        return bool(scope == site)
    if role is Role.SERVICE_MANAGER:
        return service is not None and scope == service
    return False


def require_kiosk(kiosk: str, site: str, service: str | None = None) -> None:
    if not may_see_kiosk(kiosk, site, service):
        abort(403, description="hors de votre périmètre")


def kiosks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The kiosk list as the caller may read it (a manager: kiosks offering their service)."""
    role, scope = person_role(), g.person.scope
    if role is Role.REGION_ADMIN:
        return rows
    if role is Role.SITE_AGENT:
        return [k for k in rows if k["site"] == scope]
    if role is Role.SERVICE_MANAGER:
        return [k for k in rows if scope in k["services"]]
    abort(403, description="votre rôle ne permet pas cette action")


def queues(view: dict[str, Any]) -> dict[str, Any]:
    """The queues' overview as the caller may read it."""
    role, scope = person_role(), g.person.scope
    if role is Role.REGION_ADMIN:
        return view
    with _db().sessions() as session:
        if role is Role.SERVICE_MANAGER:
            ids = set(
                session.scalars(select(ExpertQueue.id).where(ExpertQueue.service_code == scope))
            )
        else:  # a counsellor: the queues they serve
            ids = set(
                session.scalars(
                    select(QueueMembership.queue_id).where(QueueMembership.counsellor_id == scope)
                )
            )
    shown = [q for q in view["queues"] if q["id"] in ids]
    if role is Role.COUNSELLOR:
        shown = [_own_calls_only(q, scope) for q in shown]
    return {**view, "queues": shown}


def _own_calls_only(queue: dict[str, Any], me: str) -> dict[str, Any]:
    """A counsellor sees the waiting calls they may take, and only their own call in talk."""
    return {
        **queue,
        "waiting": [
            {**w, "ringing": w["ringing"] if w["ringing"] == me else None} for w in queue["waiting"]
        ],
        "talking": [t for t in queue["talking"] if t["counsellor"] == me],
        "counsellors": [
            {**c, "call": c["call"] if c["id"] == me else None} for c in queue["counsellors"]
        ],
    }
