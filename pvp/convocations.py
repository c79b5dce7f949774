"""Citizens convoked to appointments: their contact details, the notices e-mailed to them by a
scheduled job (convocation, reminder the day before, change, cancellation), and the purge.

Each round compares every convoked appointment with what its citizen was last told and
queues what is missing. A notice row with a unique key is committed *before* the SMTP
conversation: a notice is never sent twice, even if the process dies mid-send (that notice
then stays "envoi incertain" for a person to check, rather than going out twice). A refused
or failed delivery clears the claim and is retried next round, up to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Result, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvp.config import Settings
from pvp.convocation_letter import Convocation, event_ics, letter_pdf, notice_text
from pvp.db import Database
from pvp.model import (
    Appointment,
    AppointmentStatus,
    CitizenContact,
    CitizenNotice,
    NoticeKind,
    Service,
    Site,
)
from pvp.panel.alerts import send_mail

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
REMINDER_QUIET = timedelta(hours=20)
OBSOLETE = "sans objet : le rendez-vous a changé depuis"
LIVE = (AppointmentStatus.BOOKED.value, AppointmentStatus.CHECKED_IN.value)


def convocation(
    session: Session, appointment: Appointment, contact: CitizenContact, cfg: Settings
) -> Convocation:
    site = session.get(Site, appointment.site_id)
    service = session.get(Service, appointment.service_code)
    assert site is not None and service is not None  # foreign keys
    changes = session.scalar(
        select(func.count())
        .select_from(CitizenNotice)
        .where(
            CitizenNotice.appointment_id == appointment.id,
            CitizenNotice.kind == NoticeKind.CHANGE.value,
        )
    )
    return Convocation(
        appointment_id=appointment.id,
        citizen_name=contact.name,
        service_code=service.code,
        service_name=service.name,
        commune=site.commune,
        host_place=site.host_place,
        agent_phone=site.agent_phone,
        start=appointment.start,
        minutes=appointment.minutes,
        bring=contact.bring,
        tz=cfg.zone,
        sequence=changes or 0,
        domain=cfg.sip_domain,
        retention_days=cfg.convocation_retention_days,
    )


def due(
    appointment: Appointment, contact: CitizenContact, now: datetime, tz: ZoneInfo
) -> list[tuple[NoticeKind, str]]:
    """The notices an appointment's citizen is owed now, with their unique keys."""
    a, start = appointment, appointment.start.isoformat()
    told = contact.notified_status
    if a.status == AppointmentStatus.CANCELLED.value:
        if told in LIVE:
            return [(NoticeKind.CANCELLATION, f"cancellation:{a.id}")]
        return []
    if a.status not in LIVE or a.start <= now:
        return []
    if not told:
        return [(NoticeKind.CONVOCATION, f"convocation:{a.id}")]
    if contact.notified_start != a.start:
        return [(NoticeKind.CHANGE, f"change:{a.id}:{start}")]
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    if a.start.astimezone(tz).date() == tomorrow:
        return [(NoticeKind.REMINDER, f"reminder:{a.id}:{start}")]
    return []


@dataclass(frozen=True)
class Outgoing:
    notice_id: int
    to: str
    subject: str
    body: str
    attachments: tuple[tuple[str, str, bytes], ...]


def _message(
    session: Session, notice: CitizenNotice, cfg: Settings, now: datetime
) -> Outgoing | None:
    appointment = session.get(Appointment, notice.appointment_id)
    contact = session.get(CitizenContact, notice.appointment_id)
    if appointment is None or contact is None:
        return None
    c = convocation(session, appointment, contact, cfg)
    kind = NoticeKind(notice.kind)
    subject, body = notice_text(kind, c)
    files: tuple[tuple[str, str, bytes], ...] = ()
    if kind in (NoticeKind.CONVOCATION, NoticeKind.CHANGE):
        files = (
            (f"convocation-{c.appointment_id}.pdf", "application/pdf", letter_pdf(c, now)),
            (f"rendez-vous-{c.appointment_id}.ics", "text/calendar", event_ics(c, now)),
        )
    elif kind is NoticeKind.CANCELLATION:
        files = ((f"rendez-vous-{c.appointment_id}.ics", "text/calendar", event_ics(c, now, True)),)
    return Outgoing(notice.id, notice.recipient, subject, body, files)


def still_due(notice: CitizenNotice, appointment: Appointment, now: datetime) -> bool:
    """Whether a queued notice still says the truth when its turn to be sent comes."""
    if notice.kind == NoticeKind.CANCELLATION.value:
        return appointment.status == AppointmentStatus.CANCELLED.value
    if appointment.status not in LIVE or appointment.start <= now:
        return False
    _kind, _id, start = (notice.key.split(":", 2) + [""])[:3]
    return not start or start == appointment.start.isoformat()


def _claim_new(db: Database, cfg: Settings, now: datetime) -> None:
    """Queue the notices owed, one committed row each (its key refuses a second)."""
    tz = cfg.zone
    with db.session() as session:
        pairs = session.execute(
            select(Appointment, CitizenContact)
            .join(CitizenContact, CitizenContact.appointment_id == Appointment.id)
            .where(CitizenContact.email != "")
        ).all()
        # Convoked (or moved) less than REMINDER_QUIET ago: that mail is the reminder.
        recent = set(
            session.scalars(
                select(CitizenNotice.appointment_id).where(
                    CitizenNotice.kind.in_([NoticeKind.CONVOCATION.value, NoticeKind.CHANGE.value]),
                    CitizenNotice.created_at > now - REMINDER_QUIET,
                )
            )
        )
        # A cancellation is news only to a citizen who received something.
        told = set(
            session.scalars(
                select(CitizenNotice.appointment_id).where(CitizenNotice.sent_at.is_not(None))
            )
        )
        owed = [
            (a.id, a.status, a.start, c.email, kind, key)
            for a, c in pairs
            for kind, key in due(a, c, now, tz)
            if not (kind is NoticeKind.REMINDER and a.id in recent)
            and not (kind is NoticeKind.CANCELLATION and a.id not in told)
        ]
    for appointment_id, status, start, email, kind, key in owed:
        try:
            with db.session() as session:
                session.add(
                    CitizenNotice(
                        appointment_id=appointment_id,
                        kind=kind.value,
                        key=key,
                        recipient=email,
                        created_at=now,
                    )
                )
                if kind is not NoticeKind.REMINDER:
                    session.execute(
                        update(CitizenContact)
                        .where(CitizenContact.appointment_id == appointment_id)
                        .values(notified_status=status, notified_start=start)
                    )
        except IntegrityError:
            log.info("notice %s already queued", key)


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (a cursor result's count)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def send_notices(db: Database, cfg: Settings, now: datetime | None = None) -> list[CitizenNotice]:
    """One round: queue what is owed, then send every unsent notice once. Returns the
    notices attempted in this round (sent or failed)."""
    now = now or datetime.now(UTC)
    _claim_new(db, cfg, now)
    with db.session() as session:
        waiting = session.scalars(
            select(CitizenNotice.id)
            .where(
                CitizenNotice.sent_at.is_(None),
                CitizenNotice.claimed_at.is_(None),
                CitizenNotice.attempts < MAX_ATTEMPTS,
            )
            .order_by(CitizenNotice.id)
        ).all()
    done = []
    for notice_id in waiting:
        with db.session() as session:
            # The claim is committed before the SMTP conversation: at most once.
            claimed = _rowcount(
                session.execute(
                    update(CitizenNotice)
                    .where(CitizenNotice.id == notice_id, CitizenNotice.claimed_at.is_(None))
                    .values(claimed_at=now, attempts=CitizenNotice.attempts + 1)
                )
            )
            notice = session.get(CitizenNotice, notice_id)
            assert notice is not None
            appointment = session.get(Appointment, notice.appointment_id)
            if claimed and (appointment is None or not still_due(notice, appointment, now)):
                # Queued, then overtaken (moved again, cancelled): never sent, never retried.
                notice.claimed_at, notice.attempts = None, MAX_ATTEMPTS
                notice.error = OBSOLETE
                continue
            outgoing = _message(session, notice, cfg, now) if claimed else None
        if outgoing is None:
            continue
        error = ""
        if not cfg.smtp_host:
            error = "aucun serveur SMTP configuré"
        else:
            try:
                send_mail(cfg, [outgoing.to], outgoing.subject, outgoing.body, outgoing.attachments)
            except (OSError, smtplib.SMTPException) as exc:
                error = f"envoi impossible : {exc}"[:400]
                log.warning("notice %s: mail failed: %s", notice_id, exc)
        with db.session() as session:
            notice = session.get(CitizenNotice, notice_id)
            assert notice is not None
            if error:
                notice.error, notice.claimed_at = error, None  # retried next round
            else:
                notice.error, notice.sent_at = "", datetime.now(UTC)
            session.flush()
            session.expunge(notice)
            done.append(notice)
    return done


def purge(session: Session, cfg: Settings, now: datetime | None = None) -> int:
    """Forget the citizens of appointments older than the retention: their contact details,
    the notices (which hold their address) and the appointment's citizen reference. The
    appointment itself stays, anonymous, for the evaluation's figures."""
    now = now or datetime.now(UTC)
    limit = now - timedelta(days=cfg.convocation_retention_days)
    old = select(Appointment.id).where(Appointment.start < limit)
    gone = _rowcount(
        session.execute(delete(CitizenContact).where(CitizenContact.appointment_id.in_(old)))
    )
    session.execute(delete(CitizenNotice).where(CitizenNotice.appointment_id.in_(old)))
    session.execute(
        update(Appointment)
        .where(Appointment.start < limit, Appointment.citizen_ref != "")
        .values(citizen_ref="")
    )
    return gone


def run_round(db: Database, cfg: Settings, now: datetime | None = None) -> list[CitizenNotice]:
    sent = send_notices(db, cfg, now)
    with db.session() as session:
        purge(session, cfg, now)
    return sent


def start_mailer(
    cfg: Settings, db: Database, stop: threading.Event | None = None
) -> threading.Thread:
    """Run a round every ``convocation_check_seconds`` in a daemon thread of ``pvp serve``
    (until ``stop`` is set, if given)."""
    stopping = stop or threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            try:
                run_round(db, cfg)
            except Exception:  # noqa: BLE001 - one bad round must not stop the reminders
                log.exception("convocation round failed")
            stopping.wait(cfg.convocation_check_seconds)

    thread = threading.Thread(target=loop, name="pvp-convocations", daemon=True)
    thread.start()
    return thread
