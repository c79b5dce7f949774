"""Kamailio (Debian's package) in front of two FreeSWITCH: devices register with Kamailio
using the credentials PVP issued (read from PVP's PostgreSQL), and Kamailio's dispatcher
probes the switch pool and takes a stopped switch out of it.

Skips, saying why, where Kamailio, FreeSWITCH, baresip or PostgreSQL is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pvp.deploy.kamailio import KamailioSite
from testkit.kamailio import KAMAILIO, Kamailio
from testkit.live_switch import Switch
from testkit.minimal_switch import MinimalSwitch
from testkit.ports import free_udp_tcp_port
from testkit.ua import Account, UserAgent

pytestmark = pytest.mark.live

PROBE_SECONDS = 1


def _until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.fixture
def pool(
    make_switch: Callable[..., Switch],
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    freeswitch_bin: Path,
    tmp_path: Path,
) -> Iterator[tuple[Switch, MinimalSwitch, Kamailio]]:
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio not found (Debian's kamailio and kamailio-postgres-modules)")
    monkeypatch.setenv("PVP_DATABASE_URL", postgres_url)
    first = make_switch(None)
    second = MinimalSwitch(str(freeswitch_bin), tmp_path / "fs2", sip_port=free_udp_tcp_port())
    second.start()
    site = KamailioSite(
        "127.0.0.1",
        free_udp_tcp_port(),
        first.settings.sip_domain,
        postgres_url,
        [("127.0.0.1", first.settings.sip_port), ("127.0.0.1", second.sip_port or 0)],
        tmp_path / "kamailio" / "ctl",
        PROBE_SECONDS,
    )
    (tmp_path / "kamailio").mkdir()
    kamailio = Kamailio(site, tmp_path / "kamailio")
    try:
        yield first, second, kamailio
    finally:
        kamailio.stop()
        second.stop()


def _device(sw: Switch, kamailio: Kamailio, user: str, password: str, where: Path) -> UserAgent:
    site = kamailio.site
    account = Account(
        user, password, site.sip_domain, site.listen_host, site.listen_port, "udp", srtp=False
    )
    return UserAgent(account, where)


def test_devices_register_with_kamailio_and_a_stopped_switch_leaves_the_pool(
    pool: tuple[Switch, MinimalSwitch, Kamailio], tmp_path: Path
) -> None:
    first, second, kamailio = pool
    uris = [f"sip:127.0.0.1:{first.settings.sip_port}", f"sip:127.0.0.1:{second.sip_port}"]
    assert _until(lambda: all(kamailio.destinations().get(u) == "AP" for u in uris), 15), (
        kamailio.destinations()
    )

    kiosk = _device(
        first, kamailio, "kiosk-vorey-1", first.passwords["kiosk-vorey-1"], tmp_path / "kiosk"
    )
    event = kiosk.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=10)
    assert event["type"] == "REGISTER_OK", event
    intruder = _device(first, kamailio, "kiosk-vorey-2", "not-its-secret", tmp_path / "bad")
    event = intruder.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=10)
    assert event["type"] == "REGISTER_FAIL", event

    stopped_at = time.monotonic()
    second.stop()
    assert _until(lambda: kamailio.destinations().get(uris[1]) == "IP", 15), kamailio.destinations()
    print(f"switch out of the pool after {time.monotonic() - stopped_at:.1f} s")
    assert kamailio.destinations().get(uris[0]) == "AP"
    kiosk.close()
    intruder.close()
