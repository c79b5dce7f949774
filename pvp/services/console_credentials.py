"""A counsellor's console phone credential (:mod:`pvp.freeswitch.console_users`), audited.

Issued when the console opens, revoked at sign-out; the audit names who did it, never the
password.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pvp.config import Settings
from pvp.freeswitch import console_users
from pvp.freeswitch.console_users import IssuedCredential
from pvp.services import audit


def issue(
    session: Session, counsellor_id: str, settings: Settings, now: datetime, *, actor: str
) -> IssuedCredential:
    issued = console_users.issue(session, counsellor_id, settings, now)
    audit.record(session, actor, "console_credential", "console_credentials", counsellor_id)
    return issued


def revoke(session: Session, counsellor_id: str, *, actor: str) -> bool:
    """Forget the console's credential; audited only if there was one."""
    if not console_users.revoke(session, counsellor_id):
        return False
    audit.record(session, actor, "console_revoked", "console_credentials", counsellor_id)
    return True
