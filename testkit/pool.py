"""Kamailio in front of two FreeSWITCH over PVP's PostgreSQL, for the live tests (issue 13).

Kamailio listens on 127.0.0.2, so the switches can tell it from devices on 127.0.0.1; both
switches are rendered behind it, and the harness's control plane holds an event socket to
each (``esl_switches``). :func:`behind_kamailio` brings the pool up around a harness
:class:`Switch` made on a PostgreSQL database of its own (:func:`fresh_database`).
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pvp.config import Settings
from pvp.deploy.kamailio import KamailioSite
from pvp.freeswitch.process import FreeSwitch
from pvp.freeswitch.render import render
from testkit.calls import eventually, registered
from testkit.esl import Esl
from testkit.kamailio import KAMAILIO, Kamailio
from testkit.live_switch import PARIS, ControlPlane, Switch
from testkit.ports import free_port, free_udp_tcp_port
from testkit.ua import Account, UserAgent

KAMAILIO_HOST = "127.0.0.2"  # devices are on 127.0.0.1: the switches trust only this one


@dataclass
class Pool:
    sw: Switch  # the first switch, the database, the plan and the devices' secrets
    second: FreeSwitch
    second_settings: Settings
    kamailio: Kamailio

    @property
    def kamailio_address(self) -> tuple[str, int]:
        return self.kamailio.site.listen_host, self.kamailio.site.listen_port

    def device(self, user: str, tone: int, where: Path) -> UserAgent:
        """A baresip registered through Kamailio over UDP (SRTP, as kiosks require)."""
        site = self.kamailio.site
        account = Account(
            user,
            self.sw.passwords[user],
            site.sip_domain,
            site.listen_host,
            site.listen_port,
            "udp",
            srtp=True,
        )
        ua = UserAgent(account, where / user, tone=tone)
        self.sw.agents.append(ua)
        return registered(ua)

    def switch_of(self, call: str) -> int:
        """Which switch (1 or 2) holds the channel ``call``."""
        for number, settings in ((1, self.sw.settings), (2, self.second_settings)):
            try:
                esl = Esl("127.0.0.1", settings.esl_port, settings.secret("esl_password"))
            except OSError:
                continue
            try:
                if esl.api(f"uuid_exists {call}").strip() == "true":
                    return number
            finally:
                esl.close()
        raise AssertionError(f"no switch holds {call}")


def skip_without_kamailio() -> None:
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio not found (Debian's kamailio and kamailio-postgres-modules)")


def fresh_database(cluster_url: str) -> str:
    """A database of its own on the module's PostgreSQL (each test imports the plan)."""
    name = f"pool_{secrets.token_hex(4)}"
    engine = create_engine(cluster_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(cluster_url).set(database=name).render_as_string(hide_password=False)


def hang_up_everything(pool: Pool) -> None:
    for settings in (pool.sw.settings, pool.second_settings):
        esl = Esl("127.0.0.1", settings.esl_port, settings.secret("esl_password"))
        try:
            esl.api("hupall NORMAL_CLEARING")
        finally:
            esl.close()


def _ready(settings: Settings, fs: FreeSwitch, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not fs.running():
            raise RuntimeError(f"FreeSWITCH exited; see {fs.log_file}")
        try:
            esl = Esl("127.0.0.1", settings.esl_port, settings.secret("esl_password"))
        except OSError:
            time.sleep(0.2)
            continue
        try:
            if esl.api("sofia status").count("RUNNING") >= 2:
                return
        finally:
            esl.close()
        time.sleep(0.2)
    raise RuntimeError(f"FreeSWITCH not ready in {timeout} s; see {fs.log_file}")


def _free_on_kamailio_host() -> int:
    while True:
        port = free_udp_tcp_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((KAMAILIO_HOST, port))
            return port
        except OSError:
            continue


@contextmanager
def behind_kamailio(sw: Switch, tmp_path: Path, dispatch: bool = True) -> Iterator[Pool]:
    """``sw``'s switch and a second one behind Kamailio; ``sw.control_plane`` becomes the
    pool's (HTTP started; its dispatcher too when ``dispatch``, else the caller leads)."""
    sw.control_plane.stop()  # its one-switch dispatcher: the pool's replaces it
    kamailio_port = _free_on_kamailio_host()
    proxy = f"{KAMAILIO_HOST}:{kamailio_port}"
    first = sw.settings.model_copy(update={"sip_proxy": proxy})
    rtp = 20000 + free_port() % 20000
    second = first.model_copy(
        update={
            "sip_port": free_udp_tcp_port(),
            "sip_tls_port": free_port(),
            "sip_wss_port": free_port(),
            "esl_port": free_port(),
            "rtp_start_port": rtp,
            "rtp_end_port": rtp + 200,
            "freeswitch_conf_dir": str(tmp_path / "fs2" / "conf"),
        }
    )
    today = sw.clock.now().astimezone(PARIS).date()
    switches = f"127.0.0.1:{first.esl_port},127.0.0.1:{second.esl_port}"
    plane = ControlPlane(first.model_copy(update={"esl_switches": switches}), sw.db, sw.clock)
    sw.control_plane = plane
    plane.start_http()
    render(first, sw.db, Path(first.freeswitch_conf_dir), today)
    sw.restart_freeswitch()
    render(second, sw.db, Path(second.freeswitch_conf_dir), today)
    fs2 = FreeSwitch(sw.fs.binary, tmp_path / "fs2" / "conf", tmp_path / "fs2", sw.fs.certs)
    fs2.start()
    kamailio: Kamailio | None = None
    try:
        _ready(second, fs2)
        (tmp_path / "kamailio").mkdir()
        site = KamailioSite(
            KAMAILIO_HOST,
            kamailio_port,
            first.sip_domain,
            sw.settings.resolved_database_url(),
            [("127.0.0.1", first.sip_port), ("127.0.0.1", second.sip_port)],
            tmp_path / "kamailio" / "ctl",
            1,
        )
        kamailio = Kamailio(site, tmp_path / "kamailio")
        uris = [f"sip:127.0.0.1:{first.sip_port}", f"sip:127.0.0.1:{second.sip_port}"]
        assert eventually(lambda: all(kamailio.destinations().get(u) == "AP" for u in uris), 15)
        if dispatch:
            plane.start_services()
        yield Pool(sw, fs2, second, kamailio)
    finally:
        sw.close_agents()
        if kamailio is not None:
            kamailio.stop()
        fs2.stop()
