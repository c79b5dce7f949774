"""The JSON API: kiosk list, routing decisions and each kiosk's service availability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import ValidationError

from pvp import health, inventory
from pvp.bundle import site_agent_phone
from pvp.clock import Clock
from pvp.config import Settings
from pvp.db import Database
from pvp.model import Kiosk, Role
from pvp.plan_view import PlanCache
from pvp.routing import RoutingError, decide
from pvp.timeparse import parse_instant
from pvp.web import scopes
from pvp.web.access import allow, kiosk_ha1
from pvp.web.device_auth import digest_required
from pvp.wire.heartbeat import Heartbeat

api = Blueprint("api", __name__, url_prefix="/api/v1")


def _settings() -> Settings:
    return current_app.extensions["pvp.settings"]


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def _clock() -> Clock:
    return current_app.extensions["pvp.clock"]


def _plans() -> PlanCache:
    return current_app.extensions["pvp.plans"]


def bad_request(message: str, field: str | None = None) -> Any:
    return jsonify(error=message, field=field, status=400), 400


def _instant_param() -> datetime:
    tz = _settings().zone
    text = request.args.get("at")
    if text is None:
        return _clock().now().astimezone(tz)
    return parse_instant(text, tz)


@api.get("/health")
def health_check() -> Any:
    return jsonify(status="ok", revision=_db().revision())


@api.get("/kiosks")
@allow(frozenset({Role.REGION_ADMIN, Role.SERVICE_MANAGER, Role.SITE_AGENT}))
def kiosk_list() -> Any:
    with _db().sessions() as session:
        return jsonify(scopes.kiosks(inventory.kiosks(session)))


@api.get("/route")
@allow(kiosks=True)
def route() -> Any:
    for name in ("kiosk", "service"):
        if not request.args.get(name):
            return bad_request(f"missing parameter {name!r}", name)
    try:
        at = _instant_param()
    except ValueError as exc:
        return bad_request(str(exc), "at")
    kiosk, service = request.args["kiosk"], request.args["service"]
    plan = _plans().get()
    known = plan.kiosks.get(kiosk)
    # Before anything is decided: an unknown kiosk is only told apart from a foreign one
    # to whoever may see every kiosk.
    scopes.require_kiosk(kiosk, known.site if known else "", service)
    try:
        decision = decide(plan, kiosk, service, at)
    except RoutingError as exc:
        return bad_request(str(exc), "kiosk" if "kiosk" in str(exc) else "service")
    return jsonify(decision.to_json())


@api.get("/kiosks/<kiosk_id>/availability")
@allow(kiosks=True, own_kiosk_arg="kiosk_id")
def availability(kiosk_id: str) -> Any:
    """Every button of a kiosk with its decision now: what the idle screen shows."""
    try:
        at = _instant_param()
    except ValueError as exc:
        return bad_request(str(exc), "at")
    plan = _plans().get()
    kiosk = plan.kiosks.get(kiosk_id)
    site = kiosk.site if kiosk else ""
    offered = sorted(kiosk.services) if kiosk else []
    if not any(scopes.may_see_kiosk(kiosk_id, site, code) for code in offered):
        scopes.require_kiosk(kiosk_id, site)
    if kiosk is None:
        return bad_request(f"unknown kiosk {kiosk_id!r}", "kiosk")
    with _db().sessions() as session:
        buttons = next(k["services"] for k in inventory.kiosks(session) if k["id"] == kiosk_id)
        row = session.get(Kiosk, kiosk_id)
        phone = site_agent_phone(row, _settings()) if row is not None else ""
    buttons = [code for code in buttons if scopes.may_see_kiosk(kiosk_id, site, code)]
    return jsonify(
        kiosk=kiosk_id,
        at=at.isoformat(),
        services=[decide(plan, kiosk_id, code, at).to_json() for code in buttons],
        site_agent_phone=phone,
    )


@api.post("/kiosks/<kiosk_id>/heartbeat")
@digest_required(kiosk_ha1)
def heartbeat(kiosk_id: str) -> Any:
    """A kiosk's health report; a kiosk may report only for itself."""
    if g.device != kiosk_id:
        return jsonify(error="une borne ne peut signaler que son propre état", status=403), 403
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return bad_request("the body must be a JSON object", "body")
    try:
        beat = Heartbeat.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        return bad_request(f"{field}: {first['msg']}", field)
    now = _clock().now()
    with _db().session() as session:
        health.record(session, kiosk_id, beat, now)
    return jsonify(kiosk=kiosk_id, received_at=now.isoformat())
