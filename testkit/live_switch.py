"""Live harness: a real FreeSWITCH on the project's configuration, the control plane, baresip.

Used by tests/live (its conftest holds the fixtures, skipped where FreeSWITCH or baresip is
missing) and by the benchmarks. Everything listens on
127.0.0.1 on free ports; each switch has its own temporary configuration, credentials and
runtime directories, and is stopped (and waited for) at the end.

The control plane is what ``pvp serve`` runs (:func:`pvp.server.start_services`): the HTTP
app (mod_xml_curl, the JSON API), the expert-queue dispatcher on the switch's event socket
and the refresher of the static fallback, all on a :class:`ShiftedClock` the tests move to
the 2006 plan's windows. The plan is the 2006 one with a second kiosk at Vorey and short
dispatcher timers on the queues the tests use (see :func:`live_plan`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from pvp.clock import ShiftedClock
from pvp.common.serving import ThreadedServer
from pvp.config import Settings
from pvp.db import Database, bump_revision
from pvp.dispatcher.worker import DispatchWorker
from pvp.freeswitch.certs import write_test_certs
from pvp.freeswitch.process import FreeSwitch
from pvp.freeswitch.render import render
from pvp.model import ConsoleStatus, ExpertQueue, Kiosk, KioskButton
from pvp.plan import load_plan
from pvp.provisioning import apply_plan, rotate_secret
from pvp.server import Services, start_services
from pvp.services import console_status
from pvp.web.app import create_app
from testkit.esl import Esl
from testkit.ports import free_port, free_udp_tcp_port
from testkit.ua import Account, UserAgent

ROOT = Path(__file__).resolve().parents[1]
PLAN_2006 = ROOT / "provisioning" / "auvergne-2006.yaml"
PARIS = ZoneInfo("Europe/Paris")
DEVICES = (
    "kiosk-vorey-1",
    "kiosk-vorey-2",
    "kiosk-cunlhat-1",
    "msa-43-c1",
    "msa-43-c2",
    "anpe-le-puy-c1",
    "anpe-le-puy-c2",
)
COUNSELLORS = tuple(d for d in DEVICES if not d.startswith("kiosk-"))
# The queues the tests call: a counsellor rings this long before the next one is tried, and
# wraps up this long after a call (the plan's are 20 s and 90 s).
NO_ANSWER_SECONDS = 3
WRAP_UP_SECONDS = 2
TEST_QUEUES = ("msa-43", "anpe-le-puy")

_AGENT_NUMBERS = itertools.count()


def live_plan(db: Database) -> None:
    """The 2006 plan's additions for the live tests: Vorey's second kiosk, short timers."""
    with db.session() as session:
        first = session.get(Kiosk, "kiosk-vorey-1")
        assert first is not None
        session.add(Kiosk(id="kiosk-vorey-2", site_id="vorey", a1_hash="0" * 32))
        session.flush()
        for button in session.scalars(select(KioskButton).where(KioskButton.kiosk_id == first.id)):
            session.add(
                KioskButton(
                    kiosk_id="kiosk-vorey-2",
                    service_code=button.service_code,
                    position=button.position,
                )
            )
        session.execute(
            update(ExpertQueue)
            .where(ExpertQueue.id.in_(TEST_QUEUES))
            .values(no_answer_timeout_seconds=NO_ANSWER_SECONDS, wrap_up_seconds=WRAP_UP_SECONDS)
        )
        bump_revision(session)


class ControlPlane:
    """What ``pvp serve`` runs, in this process: waitress in a thread, the dispatcher and the
    fallback refresher; can be stopped and started again (a restart of the control plane)."""

    def __init__(self, settings: Settings, db: Database, clock: ShiftedClock) -> None:
        self.settings, self.db, self.clock = settings, db, clock
        self.host, self.port = settings.http_host, settings.http_port
        self.offers: list[str] = []  # every counsellor the dispatchers rang, in order
        self.services: Services | None = None
        self._server: ThreadedServer | None = None

    @property
    def worker(self) -> DispatchWorker:
        assert self.services is not None, "the control plane is stopped"
        return self.services.worker

    def _dial(self, counsellor: str) -> str:
        self.offers.append(counsellor)
        return f"user/{counsellor}@{self.settings.sip_domain}"

    def start(self, timeout: float = 20) -> None:
        """HTTP, then the dispatcher, connected and reconciled with the switch."""
        self.start_http()
        self.start_services(timeout)

    def start_http(self) -> None:
        self.app = create_app(self.settings, self.db, clock=self.clock)
        self._server = ThreadedServer(self.app, self.host, self.port, threads=4).start()

    def start_services(self, timeout: float = 20) -> None:
        self.services = start_services(
            self.settings,
            self.db,
            self.app,
            dial_string=self._dial,
            tick_seconds=0.1,
            console_poll_seconds=0.5,
        )
        if not self.services.worker.reconciled.wait(timeout):
            raise RuntimeError(f"the dispatcher did not reach FreeSWITCH in {timeout} s")

    def restart(self) -> None:
        """Stop everything ``pvp serve`` runs, and start it again (a new dispatcher)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.services is not None:
            self.services.stop()
            self.services = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def set_status(self, counsellor: str, status: ConsoleStatus | str) -> None:
        """What the console's status POST does behind its sign-in and CSRF checks (those are
        tested in tests/dispatcher/test_http_cli.py): the database, then the dispatcher."""
        wanted = ConsoleStatus(status)
        with self.db.session() as session:
            console_status.set_status(
                session, counsellor, wanted, datetime.now(UTC), actor="live-test"
            )
        if self.services is not None:
            self.services.worker.set_console_status(counsellor, wanted)


class Switch:
    """FreeSWITCH + control plane + the live plan with fresh credentials for DEVICES."""

    def __init__(self, binary: Path, workdir: Path, prepare: Callable[[Database], None] | None):
        self.workdir = workdir
        conf = workdir / "conf"
        self.settings = Settings(
            data_dir=workdir / "data",
            freeswitch_conf_dir=str(conf),
            fallback_check_seconds=0.5,
            http_port=free_port(),
            sip_port=free_udp_tcp_port(),
            sip_tls_port=free_port(),
            sip_wss_port=free_port(),
            esl_port=free_port(),
            rtp_start_port=20000 + free_port() % 20000,
            directory_cache_ms=30000,
            # Every test signs in from 127.0.0.1, some with wrong passwords on purpose: the
            # address block is tried on its own (test_sip_hardening.py sets its threshold).
            sip_block_failures=10_000,
            freeswitch_loglevel="debug",
        )
        self.settings = self.settings.model_copy(
            update={"rtp_end_port": self.settings.rtp_start_port + 200}
        )
        self.db = Database(self.settings.resolved_database_url())
        with self.db.session() as session:
            apply_plan(session, load_plan(PLAN_2006), self.settings.sip_domain)
        live_plan(self.db)
        with self.db.session() as session:
            self.passwords = {
                d: rotate_secret(session, d, self.settings.sip_domain) for d in DEVICES
            }
        if prepare:
            prepare(self.db)
        self.clock = ShiftedClock(datetime.now(UTC))
        render(self.settings, self.db, conf, self.clock.now().astimezone(PARIS).date())
        self.ca = write_test_certs(workdir / "certs", [self.settings.sip_host])
        self.control_plane = ControlPlane(self.settings, self.db, self.clock)
        self.fs = FreeSwitch(binary, conf, workdir / "run", workdir / "certs")
        self.agents: list[UserAgent] = []

    def start(self) -> None:
        self.control_plane.start_http()
        self.fs.start()
        try:
            self.esl = self._wait_ready()
            self.control_plane.start_services()
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

    @property
    def worker(self) -> DispatchWorker:
        """The running control plane's dispatcher."""
        return self.control_plane.worker

    def agent(
        self,
        user: str,
        transport: str = "tls",
        password: str | None = None,
        tone: int = 440,
        srtp: bool = True,
        regint: int = 600,
    ) -> UserAgent:
        """A baresip registered (or trying to) as ``user``; TLS or UDP, SRTP unless told."""
        port = self.settings.sip_tls_port if transport == "tls" else self.settings.sip_port
        account = Account(
            user,
            password or self.passwords[user],
            self.settings.sip_domain,
            self.settings.sip_host,
            port,
            transport,
            srtp=srtp,
            regint=regint,
        )
        where = self.workdir / "ua" / f"{user}-{next(_AGENT_NUMBERS)}"
        ua = UserAgent(account, where, self.ca, tone=tone)
        self.agents.append(ua)
        return ua

    def restart_freeswitch(self) -> float:
        """Stop FreeSWITCH (SIGTERM, waited for) and start it again on the same configuration,
        ports and runtime directory; the control plane keeps running and reconnects by itself.
        Returns the monotonic instant the switch is ready again."""
        self.esl.close()
        self.fs.stop()
        self.fs.start()
        self.esl = self._wait_ready()
        return time.monotonic()

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

    def reset(self, timeout: float = 10) -> None:
        """As the next test expects it: the control plane up, no call, no agent, every
        counsellor offline, unregistered and idle, no offer recorded."""
        self.close_agents()
        self.hangup_all()
        if self.control_plane.services is None:  # a test stopped it and failed
            self.control_plane.restart()
        for counsellor in COUNSELLORS:
            self.control_plane.set_status(counsellor, ConsoleStatus.OFFLINE)
        if not self._settled(timeout):
            # baresip's unregistration got lost: make FreeSWITCH forget the contacts.
            self.esl.api("sofia profile pvp flush_inbound_reg")
            if not self._settled(timeout):
                raise RuntimeError(f"dispatcher not settled: {self.worker.overview()}")
        self.control_plane.offers.clear()

    def _settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker = self.worker
            with worker._lock:
                calls = list(worker.policy.calls)
                busy = [
                    c.id
                    for c in worker.policy.counsellors.values()
                    if c.id in COUNSELLORS and (c.registered or c.activity != "idle")
                ]
            if not calls and not busy:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self.close_agents()
        try:
            self.esl.close()
        except (AttributeError, OSError):
            pass
        self.control_plane.stop()
        self.fs.stop()
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
