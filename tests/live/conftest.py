"""Live harness: a real FreeSWITCH on the project's configuration, the control plane, baresip.

Skipped, saying why, where FreeSWITCH or baresip is missing. Everything listens on
127.0.0.1 on free ports; each switch has its own temporary configuration, credentials and
runtime directories, and is stopped (and waited for) at the end.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from waitress import wasyncore
from waitress.server import create_server

from pvp.clock import ShiftedClock
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.certs import write_test_certs
from pvp.freeswitch.config import render
from pvp.freeswitch.process import WHERE, FreeSwitch, find_binary
from pvp.plan import load_plan
from pvp.provisioning import apply_plan, rotate_secret
from pvp.web import create_app

from ._minimal_fs import MinimalSwitch
from .esl import Esl
from .ua import Account, UserAgent, free_port

ROOT = Path(__file__).resolve().parents[2]
PLAN_2006 = ROOT / "provisioning" / "auvergne-2006.yaml"
PARIS = ZoneInfo("Europe/Paris")
DEVICES = ("kiosk-vorey-1", "kiosk-cunlhat-1", "msa-43-c1", "msa-43-c2", "anpe-le-puy-c1")

_AGENT_NUMBERS = itertools.count()


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


@pytest.fixture(scope="session")
def freeswitch_bin() -> Path:
    binary = find_binary(Settings(freeswitch_bin=os.environ.get("PVP_FREESWITCH_BIN", "")))
    if binary is None:
        pytest.skip(f"FreeSWITCH not found: {WHERE}")
    if shutil.which("baresip") is None:
        pytest.skip("baresip not found: apt-get install baresip-core (see packages.debian)")
    return binary


class ControlPlane:
    """The Flask app served by waitress in a thread; can be stopped and started again."""

    def __init__(self, settings: Settings, db: Database, clock: ShiftedClock) -> None:
        self.app = create_app(settings, db, clock=clock)
        self.host, self.port = settings.http_host, settings.http_port
        self._server: object | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        server = create_server(self.app, host=self.host, port=self.port, threads=4)
        self._server = server
        self._thread = threading.Thread(target=server.run, daemon=True)  # type: ignore[attr-defined]
        self._thread.start()

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        # Close from the server's own loop thread (closing its sockets from here races its
        # select() into EBADF); an empty socket map ends the loop.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))  # type: ignore[attr-defined]
        assert self._thread is not None
        self._thread.join(timeout=5)
        server.task_dispatcher.shutdown()  # type: ignore[attr-defined]
        self._server = None


class Switch:
    """FreeSWITCH + control plane + the 2006 plan with fresh credentials for DEVICES."""

    def __init__(self, binary: Path, workdir: Path, prepare: Callable[[Database], None] | None):
        self.workdir = workdir
        self.settings = Settings(
            data_dir=workdir / "data",
            http_port=free_port(),
            sip_port=free_udp_tcp_port(),
            sip_tls_port=free_port(),
            esl_port=free_port(),
            rtp_start_port=20000 + free_port() % 20000,
            directory_cache_ms=30000,
            freeswitch_loglevel="debug",
        )
        self.settings = self.settings.model_copy(
            update={"rtp_end_port": self.settings.rtp_start_port + 200}
        )
        self.db = Database(self.settings.resolved_database_url())
        with self.db.session() as session:
            apply_plan(session, load_plan(PLAN_2006), self.settings.sip_domain)
            self.passwords = {
                d: rotate_secret(session, d, self.settings.sip_domain) for d in DEVICES
            }
        if prepare:
            prepare(self.db)
        self.clock = ShiftedClock(datetime.now(UTC))
        conf = workdir / "conf"
        render(self.settings, self.db, conf, self.clock.now().astimezone(PARIS).date())
        self.ca = write_test_certs(workdir / "certs", [self.settings.sip_host])
        self.control_plane = ControlPlane(self.settings, self.db, self.clock)
        self.fs = FreeSwitch(binary, conf, workdir / "run", workdir / "certs")
        self.agents: list[UserAgent] = []

    def start(self) -> None:
        self.control_plane.start()
        self.fs.start()
        try:
            self.esl = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 30) -> Esl:
        deadline = time.monotonic() + timeout
        last = "no answer on the event socket"
        while time.monotonic() < deadline:
            if not self.fs.running():
                raise RuntimeError(f"FreeSWITCH exited; see {self.fs.log_file}")
            try:
                esl = Esl("127.0.0.1", self.settings.esl_port, self.settings.secret("esl_password"))
            except OSError:
                time.sleep(0.2)
                continue
            last = esl.api("sofia status")
            # One line for UDP/TCP, one for TLS.
            if last.count("RUNNING") >= 2 and "ready" in esl.api("status"):
                return esl
            esl.close()
            time.sleep(0.2)
        raise RuntimeError(f"FreeSWITCH not ready in {timeout} s ({last}); see {self.fs.log_file}")

    def agent(self, user: str, transport: str = "tls", password: str | None = None) -> UserAgent:
        """A baresip registered (or trying to) as ``user``; TLS+SRTP, or UDP (SRTP too)."""
        port = self.settings.sip_tls_port if transport == "tls" else self.settings.sip_port
        account = Account(
            user,
            password or self.passwords[user],
            self.settings.sip_domain,
            self.settings.sip_host,
            port,
            transport,
            srtp=True,
        )
        ua = UserAgent(account, self.workdir / "ua" / f"{user}-{next(_AGENT_NUMBERS)}", self.ca)
        self.agents.append(ua)
        return ua

    def travel_to(self, local: str) -> None:
        self.clock.travel_to(datetime.fromisoformat(local).replace(tzinfo=PARIS))

    def hangup_all(self) -> None:
        self.esl.api("hupall NORMAL_CLEARING")
        deadline = time.monotonic() + 5
        while self.esl.channels() and time.monotonic() < deadline:
            time.sleep(0.1)

    def close_agents(self) -> None:
        for ua in self.agents:
            ua.close()
        self.agents.clear()

    def stop(self) -> None:
        self.close_agents()
        try:
            self.esl.close()
        except (AttributeError, OSError):
            pass
        self.fs.stop()
        self.control_plane.stop()
        self.db.engine.dispose()


def started(binary: Path, workdir: Path, prepare: Callable[[Database], None] | None) -> Switch:
    """A started switch; once more on fresh ports if one was taken meanwhile."""
    for attempt in (1, 2):
        sw = Switch(binary, workdir / f"try{attempt}", prepare)
        try:
            sw.start()
            return sw
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def switch(freeswitch_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    sw = started(freeswitch_bin, tmp_path_factory.mktemp("switch"), None)
    yield sw
    sw.stop()


@pytest.fixture
def fresh(switch: Switch) -> Iterator[Switch]:
    """The shared switch, with no call and no agent left over from the previous test."""
    yield switch
    switch.close_agents()
    switch.hangup_all()


@pytest.fixture
def make_switch(
    freeswitch_bin: Path, tmp_path: Path
) -> Iterator[Callable[[Callable[[Database], None] | None], Switch]]:
    """A switch of the test's own (e.g. with a plan edited before rendering)."""
    made: list[Switch] = []

    def factory(prepare: Callable[[Database], None] | None = None) -> Switch:
        sw = started(freeswitch_bin, tmp_path / f"switch{len(made)}", prepare)
        made.append(sw)
        return sw

    yield factory
    for sw in made:
        sw.stop()


@pytest.fixture
def freeswitch(freeswitch_bin: Path, tmp_path: Path) -> Iterator[MinimalSwitch]:
    """A bare FreeSWITCH (event socket, optional SIP profile) for the ESL and dispatcher tests."""
    switch = MinimalSwitch(freeswitch_bin, tmp_path / "freeswitch")
    switch.start()
    yield switch
    switch.stop()
