"""A counsellor's browser console (SIP user ``<counsellor>_console``) counts as the counsellor
being registered, alongside or instead of their softphone."""

from __future__ import annotations

import json

from pvp.freeswitch.eslframe import Event
from pvp.freeswitch.registrations import RegistrationTracker


def sofia(subclass: str, user: str, call_id: str) -> Event:
    return Event(
        {"Event-Name": "CUSTOM", "Event-Subclass": subclass, "username": user, "call-id": call_id}
    )


def test_the_console_and_the_softphone_are_both_the_counsellors_contacts() -> None:
    changes: list[tuple[str, bool]] = []
    tracker = RegistrationTracker(lambda user, up: changes.append((user, up)))
    tracker.on_event(sofia("sofia::register", "msa-43-c1_console", "web-1"))
    assert tracker.is_registered("msa-43-c1")
    tracker.on_event(sofia("sofia::register", "msa-43-c1", "soft-1"))
    tracker.on_event(sofia("sofia::unregister", "msa-43-c1_console", "web-1"))
    assert tracker.is_registered("msa-43-c1")  # the softphone is still there
    tracker.on_event(sofia("sofia::expire", "msa-43-c1", "soft-1"))
    assert changes == [("msa-43-c1", True), ("msa-43-c1", False)]
    assert "msa-43-c1_console" not in tracker.registered_users()


def test_a_resync_maps_console_rows_to_their_counsellor() -> None:
    tracker = RegistrationTracker()
    table = {"rows": [{"reg_user": "anpe-le-puy-c1_console", "token": "web-9"}]}
    tracker.resync(json.dumps(table))
    assert tracker.registered_users() == {"anpe-le-puy-c1"}
