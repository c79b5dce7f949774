"""A citizen's convocation: the French letter (PDF, reportlab), its calendar event (ICS) and
the e-mails that announce, remind, move or cancel it. Pure: no database, no network."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from pvp.model import NoticeKind
from pvp.panel.french import MONTHS, fr_date

# What to bring when the manager writes nothing: by service, then a default.
BRING = {
    "anpe": "votre pièce d'identité, votre numéro d'identifiant de demandeur d'emploi et "
    "votre CV à jour",
    "caf": "votre pièce d'identité, votre numéro d'allocataire et vos derniers justificatifs "
    "de ressources",
    "msa": "votre pièce d'identité, votre numéro de sécurité sociale et les courriers reçus "
    "de la MSA",
}
BRING_DEFAULT = "votre pièce d'identité et les courriers concernant votre demande"
ARRIVE_EARLY_MINUTES = 10


@dataclass(frozen=True)
class Convocation:
    """Everything the letter and the e-mails say."""

    appointment_id: int
    citizen_name: str
    service_code: str
    service_name: str
    commune: str
    host_place: str  # "Mairie, place de l'Église"; may be empty
    agent_phone: str  # the site's host, to call when one cannot come
    start: datetime  # aware
    minutes: int
    bring: str
    tz: ZoneInfo
    sequence: int = 0  # bumped by each change, so calendars replace the event
    domain: str = "pvp.localhost"
    retention_days: int = 90  # said on the letter: when the contact details are forgotten

    @property
    def place(self) -> str:
        return ", ".join(p for p in (self.host_place, self.commune) if p)

    @property
    def when(self) -> str:
        local = self.start.astimezone(self.tz)
        return f"{fr_date(local.date())} à {local:%H} h {local:%M}"

    @property
    def what_to_bring(self) -> str:
        return self.bring.strip() or BRING.get(self.service_code, BRING_DEFAULT)


def _paragraph(pdf: canvas.Canvas, text: str, x: float, y: float, width: int = 88) -> float:
    for line in textwrap.wrap(text, width) or [""]:
        pdf.drawString(x, y, line)
        y -= 5.5 * mm
    return y - 2 * mm


def letter_pdf(c: Convocation, issued: datetime) -> bytes:
    """The convocation as a one-page A4 PDF in French."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(f"Convocation {c.service_name} – {c.commune}")
    pdf.setAuthor("Point Visio Public")
    pdf.setSubject(f"Rendez-vous n°{c.appointment_id}")
    width, height = A4
    x, y = 22 * mm, height - 25 * mm
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawString(x, y, f"{c.service_name} · Point Visio Public")
    local_issued = issued.astimezone(c.tz)
    pdf.setFont("Helvetica", 10)
    pdf.drawRightString(
        width - 22 * mm,
        y,
        f"Le {local_issued.day} {MONTHS[local_issued.month - 1]} {local_issued.year}",
    )
    y -= 18 * mm
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(x, y, c.citizen_name)
    y -= 14 * mm
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(x, y, "Convocation")
    y -= 10 * mm
    pdf.setFont("Helvetica", 11)
    y = _paragraph(pdf, "Madame, Monsieur,", x, y)
    y = _paragraph(
        pdf,
        f"Vous êtes convoqué(e) à un entretien avec un conseiller de {c.service_name}, "
        "en visioconférence depuis la borne Point Visio Public :",
        x,
        y,
    )
    pdf.setFont("Helvetica-Bold", 11)
    for label, value in (
        ("Date et heure", f"le {c.when} (durée : {c.minutes} minutes)"),
        ("Lieu", c.place),
        ("Service", c.service_name),
        ("Référence", f"rendez-vous n°{c.appointment_id}"),
    ):
        pdf.drawString(x + 4 * mm, y, f"{label} :")
        pdf.setFont("Helvetica", 11)
        pdf.drawString(x + 40 * mm, y, value)
        pdf.setFont("Helvetica-Bold", 11)
        y -= 7 * mm
    y -= 3 * mm
    pdf.setFont("Helvetica", 11)
    y = _paragraph(
        pdf,
        f"Présentez-vous {ARRIVE_EARLY_MINUTES} minutes avant l'heure. À la borne, appuyez sur "
        f"le bouton « {c.service_name} » : votre conseiller vous répond à l'écran. L'agent "
        "d'accueil peut vous aider.",
        x,
        y,
    )
    y = _paragraph(pdf, f"Merci d'apporter : {c.what_to_bring}.", x, y)
    # Non-breaking spaces: a phone number is never cut across two lines.
    phone = c.agent_phone.replace(" ", "\u00a0")
    contact = f" en appelant l'accueil au {phone}" if phone else ""
    y = _paragraph(
        pdf,
        f"Si vous ne pouvez pas venir, prévenez-nous au plus tôt{contact} : un autre "
        "rendez-vous vous sera proposé.",
        x,
        y,
    )
    y = _paragraph(pdf, "Veuillez agréer, Madame, Monsieur, nos salutations distinguées.", x, y)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(
        x,
        18 * mm,
        "Vos coordonnées servent uniquement à ce rendez-vous ; elles sont effacées "
        f"{c.retention_days} jours après lui.",
    )
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def event_ics(c: Convocation, stamp: datetime, cancelled: bool = False) -> bytes:
    """The appointment as an iCalendar event; a cancellation replaces it (METHOD:CANCEL)."""
    cal = Calendar()
    cal.add("prodid", "-//Point Visio Public//convocation//FR")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"convocation-{c.appointment_id}@{c.domain}")
    event.add("sequence", c.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", c.start)
    event.add("dtend", c.start + timedelta(minutes=c.minutes))
    event.add("summary", f"Rendez-vous {c.service_name} (visio) – {c.commune}")
    event.add("location", c.place)
    event.add(
        "description",
        f"Entretien en visioconférence, borne Point Visio Public. Apporter : {c.what_to_bring}.",
    )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(event)
    return bytes(cal.to_ical())


def notice_text(kind: NoticeKind, c: Convocation) -> tuple[str, str]:
    """The e-mail's subject and body, in French."""
    hello = f"Bonjour {c.citizen_name},\n\n"
    sign = (
        f"\nRéférence : rendez-vous n°{c.appointment_id}.\n"
        "Ce message est envoyé automatiquement ; merci de ne pas y répondre.\n"
        f"-- {c.service_name} · Point Visio Public\n"
    )
    where = f"à la borne Point Visio Public de {c.place}"
    if kind is NoticeKind.CONVOCATION:
        subject = f"Convocation : {c.service_name}, le {c.when}"
        body = (
            f"Vous êtes convoqué(e) le {c.when}, {where}, pour un entretien en "
            f"visioconférence avec un conseiller de {c.service_name} ({c.minutes} minutes).\n"
            f"Merci d'apporter : {c.what_to_bring}.\n"
            "Votre convocation (PDF) et le rendez-vous pour votre agenda sont joints."
        )
    elif kind is NoticeKind.REMINDER:
        subject = f"Rappel : rendez-vous {c.service_name} demain à {c.when.split(' à ')[1]}"
        body = (
            f"Nous vous rappelons votre rendez-vous de demain, {c.when}, {where}.\n"
            f"Présentez-vous {ARRIVE_EARLY_MINUTES} minutes avant et appuyez sur le bouton "
            f"« {c.service_name} ».\nMerci d'apporter : {c.what_to_bring}."
        )
    elif kind is NoticeKind.CHANGE:
        subject = f"Rendez-vous {c.service_name} déplacé au {c.when}"
        body = (
            f"Votre rendez-vous est déplacé : il aura lieu le {c.when}, {where}.\n"
            "La convocation mise à jour et le rendez-vous pour votre agenda sont joints."
        )
    else:
        subject = f"Rendez-vous {c.service_name} du {c.when} annulé"
        body = (
            f"Votre rendez-vous du {c.when} {where} est annulé.\n"
            "Le service vous recontactera si un nouveau rendez-vous est nécessaire."
        )
    if c.agent_phone and kind is not NoticeKind.CANCELLATION:
        body += f"\nEn cas d'empêchement, appelez l'accueil au {c.agent_phone}."
    return subject, hello + body + "\n" + sign
