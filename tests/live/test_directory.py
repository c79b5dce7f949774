"""Live: the directory FreeSWITCH authenticates against follows the plan at once.

A device PVP does not know is "not found" by the control plane; FreeSWITCH then reads the
static directory, which ``pvp serve`` renders again on every plan change and makes
FreeSWITCH read (``reloadxml``), dropping cached entries (``xml_flush_cache``). So a deleted
device or a replaced secret stops working at once, not after ``directory_cache_ms``.
"""

from __future__ import annotations

import pytest

from pvp.db import bump_revision
from pvp.model import Kiosk, KioskButton
from pvp.provisioning import a1_hash, new_secret, rotate_secret
from testkit.calls import eventually, registered
from testkit.live_switch import Switch

pytestmark = pytest.mark.live

SPARE = "kiosk-vorey-9"


def refused(sw: Switch, user: str, password: str) -> bool:
    event = sw.agent(user, "udp", password=password).wait_event(
        "REGISTER_OK", "REGISTER_FAIL", timeout=10
    )
    return event["type"] == "REGISTER_FAIL"


def fallback_current(sw: Switch) -> bool:
    refresher = sw.control_plane.services and sw.control_plane.services.refresher
    assert refresher, "the control plane runs no fallback refresher"
    return eventually(refresher.up_to_date, 10)


def static_directory(sw: Switch) -> str:
    return (sw.workdir / "conf" / "directory" / "pvp.xml").read_text()


def test_an_unknown_user_cannot_register(fresh: Switch) -> None:
    assert refused(fresh, "kiosk-nowhere-1", "guess")


def test_a_deleted_kiosk_cannot_register_again(fresh: Switch) -> None:
    secret = new_secret()
    with fresh.db.session() as session:
        session.add(
            Kiosk(
                id=SPARE, site_id="vorey", a1_hash=a1_hash(SPARE, fresh.settings.sip_domain, secret)
            )
        )
        session.add(KioskButton(kiosk_id=SPARE, service_code="msa", position=0))
        bump_revision(session)
    assert fallback_current(fresh)
    assert SPARE in static_directory(fresh)
    registered(fresh.agent(SPARE, "udp", password=secret))  # FreeSWITCH caches the entry

    with fresh.db.session() as session:
        kiosk = session.get(Kiosk, SPARE)
        session.delete(kiosk)
        bump_revision(session)
    assert fallback_current(fresh)
    assert SPARE not in static_directory(fresh)
    assert refused(fresh, SPARE, secret)


def test_a_replaced_secret_stops_working_at_once(fresh: Switch) -> None:
    device = "kiosk-cunlhat-1"
    old = fresh.passwords[device]
    registered(fresh.agent(device, "udp"))  # FreeSWITCH caches the entry (30 s here)
    with fresh.db.session() as session:
        fresh.passwords[device] = rotate_secret(session, device, fresh.settings.sip_domain)
    assert fallback_current(fresh)
    assert refused(fresh, device, old)
    registered(fresh.agent(device, "udp"))
