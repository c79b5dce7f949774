"""HTTP resources of the dispatcher: counsellors' console status and the queues' state.

Thin resources: validate, call one service, answer JSON. With a dispatcher running in this
process the change reaches it at once; otherwise it is written to the database, where a
dispatcher in another process picks it up within seconds.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from pvp.db import Database
from pvp.dispatcher.store import QueueStore, UnknownCounsellor, build_policy, set_console_status
from pvp.dispatcher.views import overview
from pvp.dispatcher.worker import DispatchWorker, utc_now
from pvp.model import ConsoleStatus
from pvp.web.api import bad_request

dispatcher = Blueprint("dispatcher", __name__, url_prefix="/api/v1")

STATUSES = [s.value for s in ConsoleStatus]


def _db() -> Database:
    return current_app.extensions["pvp.db"]


def _worker() -> DispatchWorker | None:
    return current_app.extensions.get("pvp.dispatcher")


@dispatcher.post("/counsellors/<counsellor_id>/status")
def counsellor_status(counsellor_id: str) -> Any:
    body = request.get_json(silent=True)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in STATUSES:
        return bad_request(f"status must be one of {', '.join(STATUSES)}", "status")
    try:
        set_console_status(_db(), counsellor_id, ConsoleStatus(status), utc_now())
    except UnknownCounsellor:
        abort(404, description=f"unknown counsellor {counsellor_id!r}")
    worker = _worker()
    if worker is not None:
        worker.set_console_status(counsellor_id, ConsoleStatus(status))
    return jsonify(counsellor=counsellor_id, status=status)


@dispatcher.get("/queues")
def queues() -> Any:
    worker = _worker()
    if worker is not None:
        return jsonify(worker.overview())
    # No dispatcher here: the same view of the state it keeps in the database.
    policy, _, _ = build_policy(QueueStore(_db()), utc_now())
    return jsonify(overview(policy))
