"""Instants typed by people: ISO 8601, Paris local time when no offset is given."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """``2006-11-01T10:00`` (local) or ``2006-11-01T10:00+01:00``; ValueError otherwise."""
    value = (text or "").strip()
    if not value:
        raise ValueError("a date-time is required, e.g. 2006-11-08T10:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"malformed date-time {text!r}: expected ISO 8601 such as 2006-11-08T10:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)
