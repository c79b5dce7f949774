"""A counsellor's console status (available, paused, offline), audited.

The one writer of ``counsellor_states.console_status``: the console, the dispatcher's HTTP
resource and ``pvp counsellor status`` all go through :func:`set_status`. A running
dispatcher reads the row (or is told at once by the HTTP resource).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pvp.dispatcher.store import UnknownCounsellor
from pvp.model import ConsoleStatus, Counsellor, CounsellorState
from pvp.services import audit

__all__ = ["UnknownCounsellor", "set_status"]


def set_status(
    session: Session, counsellor_id: str, status: ConsoleStatus, now: datetime, *, actor: str
) -> CounsellorState:
    if session.get(Counsellor, counsellor_id) is None:
        raise UnknownCounsellor(counsellor_id)
    state = session.get(CounsellorState, counsellor_id)
    before = audit.snapshot(state)
    if state is None:
        state = CounsellorState(counsellor_id=counsellor_id, registered=False)
        session.add(state)
    state.console_status = str(ConsoleStatus(status))
    state.updated_at = now
    session.flush()
    audit.record(
        session, actor, "status", "counsellor_states", counsellor_id, before, audit.snapshot(state)
    )
    return state
