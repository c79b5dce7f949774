"""Citizens convoked to appointments: the letter, the e-mails through a real SMTP server
(aiosmtpd), each notice sent once across restarts, and the purge after the retention."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from panel_helpers import Inbox, local, next_open_day, page
from pypdf import PdfReader
from sqlalchemy import select

from pvp.cli import main
from pvp.config import Settings
from pvp.convocations import purge, send_notices, start_mailer
from pvp.db import Database
from pvp.model import Appointment, AuditEntry, CitizenContact, CitizenNotice, Site
from testkit.ports import free_port

CITIZEN = {"name": "Mme Martin", "email": "martin@example.fr", "phone": "", "bring": ""}


def _book(client: Any) -> tuple[int, datetime]:
    """A manager books ANPE at Vorey next Wednesday 10:00; the appointment's id and start."""
    day = next_open_day(2)
    client.get("/manager/")
    r = client.post(
        "/manager/appointments",
        {
            "site": "vorey",
            "counsellor": "anpe-le-puy-c1",
            "start": f"{day.isoformat()}T10:00",
            "minutes": "30",
        },
    )
    assert r.status_code == 303, page(r)
    start = local(day, "10:00")
    return int(page(client.get("/manager/")).split("Rendez-vous n°")[1].split(" ")[0]), start


def _convoke(client: Any, appointment: int, **fields: str) -> Any:
    client.get(f"/manager/appointments/{appointment}/convocation")
    return client.post(f"/manager/appointments/{appointment}/convocation", CITIZEN | fields)


@pytest.fixture
def convoked(as_role: Any) -> tuple[Any, int, datetime]:
    """Mme Martin convoked by the ANPE manager: (the manager's client, appointment, start)."""
    manager = as_role("gestion-anpe")
    appointment, start = _book(manager)
    assert _convoke(manager, appointment).status_code == 303
    return manager, appointment, start


def _attachments(mail: Any) -> dict[str, bytes]:
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in mail.walk()
        if part.get_filename()
    }


def _subject(mail: Any) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def _body(mail: Any) -> str:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    return str(part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8"))


def _round_with_smtp_down(pdb: Database, settings: Settings, now: datetime) -> CitizenNotice:
    """A round while nobody listens on the SMTP port: the one notice fails, said why."""
    up, settings.smtp_port = settings.smtp_port, free_port()
    try:
        (failed,) = send_notices(pdb, settings, now)
    finally:
        settings.smtp_port = up
    assert failed.error.startswith("envoi impossible")
    return failed


def test_a_convoked_citizen_gets_the_letter_and_the_event_once(
    as_role: Any, pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    with pdb.session() as session:
        site = session.get(Site, "vorey")
        assert site is not None
        site.host_place, site.agent_phone = "Mairie, place de l'Église", "04 71 00 00 00"
    manager = as_role("gestion-anpe")
    appointment, start = _book(manager)
    r = _convoke(manager, appointment)
    assert r.status_code == 303
    text = page(manager.get(f"/manager/appointments/{appointment}/convocation"))
    assert "l'e-mail part dans les minutes qui viennent" in text
    assert "effacées 90 jours après le rendez-vous" in text

    now = start - timedelta(days=5)
    sent = send_notices(pdb, settings, now)
    assert [(n.kind, n.error) for n in sent] == [("convocation", "")]
    ((to, mail),) = smtp.messages
    assert to == ["martin@example.fr"]
    assert _subject(mail).startswith("Convocation : ")
    body = _body(mail)
    assert "Bonjour Mme Martin" in body and "Mairie, place de l'Église, Vorey" in body
    assert "10 h 00" in body and "04 71 00 00 00" in body
    files = _attachments(mail)
    letter = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(files[f"convocation-{appointment}.pdf"])).pages
    )
    for expected in (
        "Convocation",
        "Mme Martin",
        "Vorey",
        "10 h 00",
        "Merci d'apporter",
        "CV",
        "90 jours",
    ):
        assert expected in letter, (expected, letter)
    event = Calendar.from_ical(files[f"rendez-vous-{appointment}.ics"]).walk("VEVENT")[0]
    assert event.decoded("dtstart") == start
    assert str(event["location"]) == "Mairie, place de l'Église, Vorey"

    # Another round, then a "restart" (a new connection pool): nothing goes twice.
    assert send_notices(pdb, settings, now) == []
    pdb.engine.dispose()
    assert send_notices(Database(pdb.url), settings, now + timedelta(minutes=5)) == []
    assert len(smtp.messages) == 1

    # The day before: the reminder, once.
    eve = start - timedelta(hours=20)
    assert [n.kind for n in send_notices(pdb, settings, eve)] == ["reminder"]
    assert send_notices(pdb, settings, eve + timedelta(hours=1)) == []
    assert _subject(smtp.messages[-1][1]).startswith("Rappel : rendez-vous")
    assert len(smtp.messages) == 2
    # The manager sees what went out.
    text = page(manager.get(f"/manager/appointments/{appointment}/convocation"))
    assert text.count("envoyé le ") == 2 and "rappel de la veille" in text


def test_a_move_sends_a_change_and_a_cancellation_a_cancel_notice(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    manager, appointment, start = convoked
    now = start - timedelta(days=5)
    send_notices(pdb, settings, now)
    r = manager.post(
        f"/manager/appointments/{appointment}/move",
        {"start": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "minutes": "30"},
    )
    assert r.status_code == 303, page(r)
    assert [n.kind for n in send_notices(pdb, settings, now)] == ["change"]
    subject = _subject(smtp.messages[-1][1])
    assert "déplacé" in subject and "11 h 00" in subject
    files = _attachments(smtp.messages[-1][1])
    (ics,) = [v for k, v in files.items() if k.endswith(".ics")]
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    assert event.decoded("dtstart") == start + timedelta(hours=1)
    assert int(event["sequence"]) == 1
    # Cancelled: the citizen is told once, with an event that cancels the first.
    with pdb.session() as session:
        live = session.scalars(
            select(CitizenContact.appointment_id).where(CitizenContact.email != "")
        ).one()
    manager.get("/manager/")
    assert manager.post(f"/manager/appointments/{live}/cancel").status_code == 303
    assert [n.kind for n in send_notices(pdb, settings, now)] == ["cancellation"]
    assert send_notices(pdb, settings, now) == []
    mail = smtp.messages[-1][1]
    assert "annulé" in _subject(mail)
    (ics,) = _attachments(mail).values()
    assert Calendar.from_ical(ics)["method"] == "CANCEL"
    assert len(smtp.messages) == 3


def test_an_smtp_failure_is_retried_and_a_crash_mid_send_is_not_resent(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    manager, appointment, start = convoked
    now = start - timedelta(days=5)
    failed = _round_with_smtp_down(pdb, settings, now)
    assert failed.sent_at is None
    assert "nouvel essai" in page(manager.get(f"/manager/appointments/{appointment}/convocation"))
    (sent,) = send_notices(pdb, settings, now)
    assert sent.id == failed.id and sent.sent_at is not None and sent.attempts == 2
    assert len(smtp.messages) == 1
    # A notice claimed by a process that died mid-send stays claimed: never sent twice.
    with pdb.session() as session:
        notice = session.get(CitizenNotice, sent.id)
        assert notice is not None
        notice.sent_at, notice.claimed_at = None, now
    assert send_notices(pdb, settings, now) == []
    assert "envoi incertain" in page(
        manager.get(f"/manager/appointments/{appointment}/convocation")
    )


def test_contact_details_are_purged_after_the_retention(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    manager, appointment, start = convoked
    send_notices(pdb, settings, start - timedelta(days=5))
    with pdb.session() as session:
        assert purge(session, settings, start + timedelta(days=89)) == 0
    with pdb.session() as session:
        assert purge(session, settings, start + timedelta(days=91)) == 1
    with pdb.session() as session:
        assert session.get(CitizenContact, appointment) is None
        assert session.scalars(select(CitizenNotice)).all() == []
        row = session.get(Appointment, appointment)
        assert row is not None and row.citizen_ref == ""  # the anonymous row stays
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "convoke")).one()
        assert "martin" not in str(entry.after)  # the audit never held the address


def test_the_form_refuses_bad_details_and_checks_roles(
    as_role: Any, pdb: Database, settings: Settings
) -> None:
    manager = as_role("gestion-anpe")
    appointment, _start = _book(manager)
    r = _convoke(manager, appointment, email="", phone="")
    assert r.status_code == 400
    assert "« Téléphone » : indiquez une adresse e-mail ou un téléphone" in page(r)
    r = _convoke(manager, appointment, email="pas-une-adresse")
    assert "« Adresse e-mail » : adresse e-mail invalide" in page(r)
    with pdb.session() as session:
        assert session.get(CitizenContact, appointment) is None
    # Phone only: kept, nothing to e-mail, the letter is printed.
    assert _convoke(manager, appointment, email="", phone="04 71 00 00 00").status_code == 303
    pdf = manager.get(f"/manager/appointments/{appointment}/convocation.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert send_notices(pdb, settings, datetime.now(UTC)) == []
    url = f"/manager/appointments/{appointment}/convocation"
    assert as_role("gestion-msa").get(url).status_code == 403
    assert as_role("conseillere").get(url).status_code == 403
    assert as_role(None).get(url).status_code == 302
    admin = as_role("admin")
    assert admin.get(url).status_code == 200
    r = admin.post(url, CITIZEN, csrf=False)
    assert r.status_code == 400


def test_the_command_line_runs_one_round(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    manager, appointment, _start = convoked
    env = {
        "PVP_DATA_DIR": str(settings.data_dir),
        "PVP_SMTP_HOST": "127.0.0.1",
        "PVP_SMTP_PORT": str(settings.smtp_port),
    }
    out = CliRunner().invoke(main, ["convocations", "send"], env=env)
    assert out.exit_code == 0, out.output
    assert f"rendez-vous {appointment} convocation martin@example.fr envoyé" in out.output
    assert (
        CliRunner().invoke(main, ["convocations", "send"], env=env).output.endswith("0 envoi(s)\n")
    )
    assert len(smtp.messages) == 1


def test_no_reminder_right_after_the_convocation(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    _manager, _appointment, start = convoked
    eve = start - timedelta(hours=20)  # convoked the day before: that mail is the reminder
    assert [n.kind for n in send_notices(pdb, settings, eve)] == ["convocation"]
    assert send_notices(pdb, settings, eve + timedelta(minutes=5)) == []
    assert send_notices(pdb, settings, eve + timedelta(hours=6)) == []
    assert len(smtp.messages) == 1


def test_a_notice_overtaken_before_it_could_go_is_never_sent(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    manager, appointment, start = convoked
    now = start - timedelta(days=5)
    _round_with_smtp_down(pdb, settings, now)  # the convocation could not go
    manager.get("/manager/")
    assert manager.post(f"/manager/appointments/{appointment}/cancel").status_code == 303
    # Neither the stale convocation nor a cancellation of something never received.
    assert send_notices(pdb, settings, now) == []
    assert send_notices(pdb, settings, now + timedelta(minutes=5)) == []
    assert smtp.messages == []
    text = page(manager.get(f"/manager/appointments/{appointment}/convocation"))
    assert "sans objet : le rendez-vous a changé depuis" in text and "nouvel essai" not in text


def test_the_background_mailer_of_pvp_serve_sends_on_its_own(
    convoked: tuple[Any, int, datetime], pdb: Database, settings: Settings, smtp: Inbox
) -> None:
    settings.convocation_check_seconds = 1
    stop = threading.Event()
    thread = start_mailer(settings, pdb, stop)
    try:
        deadline = time.monotonic() + 15
        while not smtp.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # two more rounds: still one message
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert len(smtp.messages) == 1
    assert _subject(smtp.messages[0][1]).startswith("Convocation : ")
