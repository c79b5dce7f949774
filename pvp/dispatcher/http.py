"""HTTP resources of the dispatcher: counsellors' console status and the queues' state.

Thin resources: validate, call one service, answer JSON. With a dispatcher running in this
process the change reaches it at once; otherwise it is written to the database, where a
dispatcher in another process picks it up within seconds.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, request

from pvp.db import Database
from pvp.dispatcher.store import QueueStore, build_policy
from pvp.dispatcher.views import overview
from pvp.dispatcher.worker import DispatchWorker, utc_now
from pvp.model import ConsoleStatus, Counsellor, Role
from pvp.services import console_status
from pvp.web import scopes
from pvp.web.access import allow
from pvp.web.api import bad_request

dispatcher = Blueprint("dispatcher", __name__, url_prefix="/api/v1")

STATUSES = [s.value for s in ConsoleStatus]


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def _worker() -> DispatchWorker | None:
    return current_app.extensions.get("pvp.dispatcher")


STAFF = frozenset({Role.REGION_ADMIN, Role.SERVICE_MANAGER, Role.COUNSELLOR})


def _may_set(counsellor_id: str) -> bool:
    """A counsellor sets their own status; a manager those of their service; the admin any."""
    person = g.person
    if person.role == Role.REGION_ADMIN:
        return True
    if person.role == Role.COUNSELLOR:
        return bool(person.scope == counsellor_id)
    with _db().sessions() as session:
        counsellor = session.get(Counsellor, counsellor_id)
        return counsellor is None or counsellor.agency.service_code == person.scope


@dispatcher.post("/counsellors/<counsellor_id>/status")
@allow(STAFF)
def counsellor_status(counsellor_id: str) -> Any:
    if not _may_set(counsellor_id):
        abort(403, description="vous ne pouvez changer que votre propre statut")
    body = request.get_json(silent=True)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in STATUSES:
        return bad_request(f"status must be one of {', '.join(STATUSES)}", "status")
    try:
        with _db().session() as session:
            console_status.set_status(
                session, counsellor_id, ConsoleStatus(status), utc_now(), actor=g.person.login
            )
    except console_status.UnknownCounsellor:
        abort(404, description=f"unknown counsellor {counsellor_id!r}")
    worker = _worker()
    if worker is not None:
        worker.set_console_status(counsellor_id, ConsoleStatus(status))
    return jsonify(counsellor=counsellor_id, status=status)


@dispatcher.get("/queues")
@allow(STAFF)
def queues() -> Any:
    worker = _worker()
    if worker is not None:
        return jsonify(scopes.queues(worker.overview()))
    # No dispatcher here: the same view of the state it keeps in the database.
    policy, _, _ = build_policy(QueueStore(_db()), utc_now())
    return jsonify(scopes.queues(overview(policy)))
