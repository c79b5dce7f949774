"""The counsellors' browser consoles as SIP users with short-lived credentials.

A console never receives the counsellor's long-term SIP secret (that one stays in their
softphone). Opening the console issues a random password for the SIP user
``<counsellor>_console``; the database keeps only its digest (``a1-hash``) and an expiry, the
xml_curl directory serves that digest until then, and signing out deletes it. A counsellor has
one console credential at a time: a new one replaces the previous (its next REGISTER fails).

The dispatcher offers calls to the counsellor's softphone and console alike: the counsellor's
dial string forks to both registrations, and both count as the counsellor being registered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from pvp.config import Settings
from pvp.model import ConsoleCredential, Counsellor
from pvp.provisioning import a1_hash

# "_" is unreserved in a SIP user part and never in a plan's identifiers (plan.IDENT); not
# "~", which sofia_contact() reads as the start of a User-Agent filter.
SUFFIX = "_console"


def sip_user(counsellor_id: str) -> str:
    return counsellor_id + SUFFIX


def owner(sip_user_id: str) -> str:
    """Whose registration this SIP user is: a console's is its counsellor's."""
    return sip_user_id.removesuffix(SUFFIX)


def counsellor_of(sip_user_id: str) -> str | None:
    """The counsellor whose console ``sip_user_id`` is, or None for any other user."""
    if not sip_user_id.endswith(SUFFIX):
        return None
    return sip_user_id[: -len(SUFFIX)] or None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    user: str
    password: str  # given to the console once, never stored
    expires_at: datetime


def issue(
    session: Session, counsellor_id: str, settings: Settings, now: datetime
) -> IssuedCredential:
    """A fresh credential for the counsellor's console, replacing any earlier one."""
    if session.get(Counsellor, counsellor_id) is None:
        raise LookupError(f"no counsellor {counsellor_id!r}")
    user = sip_user(counsellor_id)
    password = secrets.token_urlsafe(24)
    expires = now + timedelta(hours=settings.session_hours)
    row = session.get(ConsoleCredential, counsellor_id)
    if row is None:
        row = ConsoleCredential(counsellor_id=counsellor_id)
        session.add(row)
    row.a1_hash = a1_hash(user, settings.sip_domain, password)
    row.issued_at, row.expires_at = now, expires
    session.flush()
    return IssuedCredential(user, password, expires)


def revoke(session: Session, counsellor_id: str) -> bool:
    """Forget the console's credential (sign-out); True if there was one."""
    gone = session.execute(
        delete(ConsoleCredential).where(ConsoleCredential.counsellor_id == counsellor_id)
    )
    return bool(gone.rowcount)  # type: ignore[attr-defined]


def valid_digest(session: Session, counsellor_id: str, now: datetime) -> str | None:
    """The digest the directory serves for the console, or None once expired or revoked."""
    row = session.get(ConsoleCredential, counsellor_id)
    if row is None or row.expires_at <= now:
        return None
    return row.a1_hash
