"""The console phone credential, sign-in and sign-out, and the convocation contacts: each
change writes its audit entry in the service, whoever calls it (docs/services.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import (
    Appointment,
    AppointmentStatus,
    AuditEntry,
    CitizenContact,
    ConsoleCredential,
    Counsellor,
    Role,
    Service,
    Site,
    User,
)
from pvp.services import accounts, citizen_contacts, console_credentials

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _audit(db: Database) -> list[tuple[str, str, str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.entity, e.entity_id) for e in rows]


def _counsellor(db: Database) -> str:
    with db.session() as session:
        return session.scalars(select(Counsellor.id).order_by(Counsellor.id)).first() or ""


def _console_open(db: Database, settings: Settings, login: str) -> str:
    """A counsellor's account whose console phone has its credential; the counsellor's id."""
    counsellor = _counsellor(db)
    with db.session() as session:
        accounts.create_user(session, login, "mot-de-passe-long", Role.COUNSELLOR, counsellor)
    with db.session() as session:
        issued = console_credentials.issue(session, counsellor, settings, NOW, actor=login)
    assert issued.user == f"{counsellor}_console"
    return counsellor


def test_a_console_credential_issued_then_revoked_at_sign_out_is_audited(
    db: Database, settings: Settings
) -> None:
    before = len(_audit(db))
    counsellor = _console_open(db, settings, "conseiller-1")
    with db.session() as session:
        user = session.scalars(select(User).where(User.login == "conseiller-1")).one()
        epoch = user.session_epoch
        accounts.signed_in(session, user)
        accounts.signed_out(session, user)
    with db.session() as session:
        assert session.get(ConsoleCredential, counsellor) is None
        user = session.scalars(select(User).where(User.login == "conseiller-1")).one()
        assert user.session_epoch == epoch + 1
        uid = str(user.id)
    assert _audit(db)[before:] == [
        ("conseiller-1", "console_credential", "console_credentials", counsellor),
        ("conseiller-1", "login", "users", uid),
        ("conseiller-1", "console_revoked", "console_credentials", counsellor),
        ("conseiller-1", "logout", "users", uid),
    ]
    # Nothing left to revoke: nothing audited.
    with db.session() as session:
        assert not console_credentials.revoke(session, counsellor, actor="conseiller-1")
    assert len(_audit(db)) == before + 4


def _appointment(db: Database, status: AppointmentStatus) -> int:
    counsellor = _counsellor(db)
    with db.session() as session:
        site = session.scalars(select(Site.id).order_by(Site.id)).first()
        service = session.scalars(select(Service.code).order_by(Service.code)).first()
        row = Appointment(
            site_id=site,
            service_code=service,
            counsellor_id=counsellor,
            start=NOW + timedelta(days=2),
            minutes=30,
            status=status.value,
            created_at=NOW,
        )
        session.add(row)
        session.flush()
        return row.id


def test_convoking_keeps_the_details_and_audits_which_were_given_not_their_text(
    db: Database,
) -> None:
    appointment = _appointment(db, AppointmentStatus.BOOKED)
    details = {"name": " Mme Martin ", "email": "martin@example.org", "phone": "", "bring": ""}
    with db.session() as session:
        row = session.get(Appointment, appointment)
        assert row is not None
        citizen_contacts.convoke(session, row, details, NOW, actor="responsable")
    with db.session() as session:
        contact = session.get(CitizenContact, appointment)
        assert contact is not None and contact.name == "Mme Martin"
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        assert (entry.actor, entry.action, entry.entity_id) == (
            "responsable",
            "convoke",
            str(appointment),
        )
        assert entry.after == {"given": ["name", "email"]}
        assert "Martin" not in str(entry.after)


def test_a_cancelled_appointment_is_not_convoked_and_nothing_is_written(db: Database) -> None:
    appointment = _appointment(db, AppointmentStatus.CANCELLED)
    before = len(_audit(db))
    with db.session() as session:
        row = session.get(Appointment, appointment)
        assert row is not None
        with pytest.raises(citizen_contacts.ConvocationRefused) as refused:
            citizen_contacts.convoke(session, row, {"name": "Mme Martin"}, NOW, actor="r")
    assert refused.value.message == "ce rendez-vous n'est plus prévu : pas de convocation"
    with db.session() as session:
        assert session.get(CitizenContact, appointment) is None
    assert len(_audit(db)) == before


def test_a_password_reset_ends_the_console_phone_of_a_counsellor_read_from_the_database(
    db: Database, settings: Settings
) -> None:
    # The role column holds a string: the check once compared identities and never matched.
    counsellor = _console_open(db, settings, "conseiller-2")
    with db.session() as session:
        user = session.scalars(select(User).where(User.login == "conseiller-2")).one()
        accounts.reset_password(session, user, "admin")
    with db.session() as session:
        assert session.get(ConsoleCredential, counsellor) is None
