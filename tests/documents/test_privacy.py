"""The handset status a kiosk sends reaches the counsellor's console (ESL MESSAGE event in)."""

from __future__ import annotations

from datetime import UTC, datetime

from pvp.db import Database
from pvp.documents.answers import status_from_event
from pvp.documents.switch import record_privacy
from pvp.model import CallRecord
from pvp.wire.messages import STATUS_TYPE, encode_status

DOMAIN = "pvp.auvergne.local"


def event(body: str, sender: str = "kiosk-vorey-1", **extra: str) -> dict[str, str]:
    """A MESSAGE event as FreeSWITCH fires it for a kiosk's MESSAGE to pvp@domain."""
    return {
        "Event-Name": "MESSAGE",
        "type": STATUS_TYPE,
        "to_user": "pvp",
        "from_user": sender,
        "from_host": DOMAIN,
        "_body": body,
        **extra,
    }


def test_status_events_are_read_and_checked() -> None:
    lifted = encode_status("kiosk-vorey-1", "uuid-1", "private", "conversation privée")
    assert status_from_event(event(lifted), DOMAIN) == ("kiosk-vorey-1", True)
    hung = encode_status("kiosk-vorey-1", "uuid-1", "public", "haut-parleur")
    assert status_from_event(event(hung), DOMAIN) == ("kiosk-vorey-1", False)
    # A kiosk speaking for another, another domain, another type, a broken body: ignored.
    assert status_from_event(event(lifted, sender="kiosk-cunlhat-1"), DOMAIN) is None
    assert status_from_event(event(lifted, from_host="evil.example"), DOMAIN) is None
    assert status_from_event(event(lifted, type="text/plain"), DOMAIN) is None
    assert status_from_event(event("{not json"), DOMAIN) is None


def test_privacy_is_kept_on_the_call_in_progress(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        session.add(
            CallRecord(
                id="uuid-1",
                kiosk_id="kiosk-vorey-1",
                site_id="vorey",
                service_code="msa",
                decision="walk_in",
                pressed_at=now,
                answered_at=now,
            )
        )
    assert record_privacy(db, "kiosk-vorey-1", True) is True
    with db.sessions() as session:
        assert session.get(CallRecord, "uuid-1").private is True
    assert record_privacy(db, "kiosk-cunlhat-1", True) is False  # no call there
