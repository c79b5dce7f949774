"""The JSON API: kiosk list, routing decisions and each kiosk's service availability."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request

from pvp import inventory
from pvp.config import Settings
from pvp.db import Database
from pvp.plan_view import PlanCache
from pvp.routing import RoutingError, decide
from pvp.timeparse import parse_instant

api = Blueprint("api", __name__, url_prefix="/api/v1")


def _settings() -> Settings:
    return current_app.extensions["pvp.settings"]


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def _plans() -> PlanCache:
    return current_app.extensions["pvp.plans"]


def bad_request(message: str, field: str | None = None) -> Any:
    return jsonify(error=message, field=field, status=400), 400


def _instant_param() -> datetime:
    tz = ZoneInfo(_settings().timezone)
    text = request.args.get("at")
    return datetime.now(tz) if text is None else parse_instant(text, tz)


@api.get("/health")
def health() -> Any:
    return jsonify(status="ok", revision=_db().revision())


@api.get("/kiosks")
def kiosk_list() -> Any:
    with _db().sessions() as session:
        return jsonify(inventory.kiosks(session))


@api.get("/route")
def route() -> Any:
    for name in ("kiosk", "service"):
        if not request.args.get(name):
            return bad_request(f"missing parameter {name!r}", name)
    try:
        at = _instant_param()
    except ValueError as exc:
        return bad_request(str(exc), "at")
    kiosk, service = request.args["kiosk"], request.args["service"]
    try:
        decision = decide(_plans().get(), kiosk, service, at)
    except RoutingError as exc:
        return bad_request(str(exc), "kiosk" if "kiosk" in str(exc) else "service")
    return jsonify(decision.to_json())


@api.get("/kiosks/<kiosk_id>/availability")
def availability(kiosk_id: str) -> Any:
    """Every button of a kiosk with its decision now: what the idle screen shows."""
    try:
        at = _instant_param()
    except ValueError as exc:
        return bad_request(str(exc), "at")
    plan = _plans().get()
    kiosk = plan.kiosks.get(kiosk_id)
    if kiosk is None:
        return bad_request(f"unknown kiosk {kiosk_id!r}", "kiosk")
    with _db().sessions() as session:
        buttons = next(k["services"] for k in inventory.kiosks(session) if k["id"] == kiosk_id)
    return jsonify(
        kiosk=kiosk_id,
        at=at.isoformat(),
        services=[decide(plan, kiosk_id, code, at).to_json() for code in buttons],
    )
