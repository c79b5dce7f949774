"""French wording of instants and durations for the kiosk screen (Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime

PARIS = ZoneInfo("Europe/Paris")
# Loaded once, here: Babel's lazy locale loading is not thread-safe, and the screen, the
# heartbeat and the agent's loop all format dates (a KeyError 'fr_FR' was seen under load).
FRENCH = Locale.parse("fr_FR")


def opening(instant: datetime, now: datetime, tz: ZoneInfo = PARIS) -> str:
    """``aujourd'hui à 14 h 00``, ``demain à 9 h 00``, ``mercredi 15 novembre à 9 h 00``."""
    local, today = instant.astimezone(tz), now.astimezone(tz).date()
    # Non-breaking spaces: "9 h 00" must never be split across two lines of a button.
    hour = format_datetime(local, "H 'h' mm", tzinfo=tz, locale=FRENCH).replace(" ", "\u00a0")
    if local.date() == today:
        return f"aujourd'hui à {hour}"
    if (local.date() - today).days == 1:
        return f"demain à {hour}"
    day = format_datetime(local, "EEEE d MMMM", tzinfo=tz, locale=FRENCH)
    if local.date().year != today.year:
        day += f" {local.year}"
    return f"{day} à {hour}"


def minutes(seconds: float) -> str:
    """An estimated wait said simply: ``moins d'une minute``, ``environ 5 minutes``."""
    whole = round(seconds / 60)
    if whole < 1:
        return "moins d'une minute"
    return "environ 1 minute" if whole == 1 else f"environ {whole} minutes"


def long_date(day: date) -> str:
    return format_datetime(
        datetime(day.year, day.month, day.day, 12), "EEEE d MMMM y", locale=FRENCH
    )
