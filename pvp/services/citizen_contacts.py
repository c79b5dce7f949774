"""Convoking an appointment's citizen: their contact details kept, audited without them.

The audit says which details were given, never the details: those are purged
``convocation_retention_days`` after the appointment (docs/convocations.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pvp.common.errors import PvpError
from pvp.convocations import LIVE
from pvp.model import Appointment, CitizenContact
from pvp.services import audit

FIELDS = ("name", "email", "phone", "bring")


class ConvocationRefused(PvpError, ValueError, code="convocation_refused"):
    """The appointment is no longer planned: nobody is convoked to it."""


def convoke(
    session: Session,
    appointment: Appointment,
    details: dict[str, str],
    now: datetime,
    *,
    actor: str,
) -> CitizenContact:
    """Keep (or replace) the contact ``details`` (``FIELDS``, blanks trimmed) of ``appointment``."""
    if appointment.status not in LIVE:
        raise ConvocationRefused("ce rendez-vous n'est plus prévu : pas de convocation")
    contact = session.get(CitizenContact, appointment.id)
    if contact is None:
        contact = CitizenContact(appointment_id=appointment.id, created_at=now)
        session.add(contact)
    for field in FIELDS:
        setattr(contact, field, details.get(field, "").strip())
    given = [f for f in FIELDS if getattr(contact, f)]
    audit.record(
        session, actor, "convoke", "citizen_contacts", appointment.id, None, {"given": given}
    )
    return contact
