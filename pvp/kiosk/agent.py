"""The kiosk agent (``pvp-kiosk run --bundle DIR``): the kiosk's parts around its state machine.

Whole on purpose: the wiring of one object around the machine; each part it drives lives in
its own module (screen, phone, messaging, documents, uplink).

    buttons ─┐                               ┌─ screen (Flask + SSE on 127.0.0.1)
    screen ──┤   inputs    ┌─────────────┐   ├─ the page's phone (dial, hang up, audio)
    page ────┼───────────► │ KioskMachine │ ──┼─ messaging (status to the counsellor)
    switch ──┘             └─────────────┘   └─ timers
    (MESSAGE)                 effects

The kiosk page (Chromium) is the video phone: it calls over WSS with WebRTC when the machine
says Dial, and reports the call's events back (see :mod:`pvp.kiosk.phone`). Everything runs
on one asyncio loop; the button reader, the screen server and the device probes run in
threads and hand their inputs to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from requests.auth import HTTPDigestAuth

from pvp.common.serving import ThreadedServer
from pvp.kiosk import events
from pvp.kiosk.availability import AvailabilityCache, ButtonStatus, describe
from pvp.kiosk.buttons import Action, ButtonReader, HangUp, Hook, KeyMap, Press, keyboards
from pvp.kiosk.commands import CommandRouter, Reply, media_type
from pvp.kiosk.documents import (
    DocumentCommands,
    register_document_commands,
    screen_pages_blueprint,
)
from pvp.kiosk.heartbeat import (
    HeartbeatSender,
    Probes,
    camera_present,
    gather,
    printer_probe,
    scanner_probe,
)
from pvp.kiosk.journal import Journal
from pvp.kiosk.messaging import (
    IncomingMessage,
    MessagingConfig,
    MessagingEndpoint,
    RegistrationState,
)
from pvp.kiosk.phone import AudioDevices, PagePhone, PhoneReport, phone_blueprint
from pvp.kiosk.printer import Printer
from pvp.kiosk.scanner import Scanner
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app
from pvp.kiosk.seen import SeenMessages
from pvp.kiosk.signing import SigningPad, signing_blueprint
from pvp.kiosk.state import COUNSELLOR_VIEWS, KioskMachine, Phase
from pvp.kiosk.uplink import ControlPlaneClient
from pvp.wire import bundle as wire_bundle
from pvp.wire import queue_news
from pvp.wire.bundle import DEFAULT_SCREEN_PORT, Bundle
from pvp.wire.identities import CONTROL_PLANE_USER
from pvp.wire.messages import (
    COMMAND_TYPE,
    STATUS_TYPE,
    Answer,
    Command,
    MessageError,
    SealError,
    Status,
    encode_status,
    unseal,
)

log = logging.getLogger("pvp.kiosk.agent")
MAX_NOTICE = 300  # characters of a counsellor's text line
# The first heartbeat waits this long for the registration's outcome, so supervision never
# shows a kiosk that is about to register as unregistered for a whole heartbeat period.
FIRST_BEAT_WAIT = 10.0


SPEAKER = AudioDevices()  # the room's loudspeaker and microphone: the system defaults
HANDSET = AudioDevices("handset", "handset")  # devices whose label says "handset"


@dataclass(frozen=True)
class AgentConfig:
    bundle: Bundle
    state_dir: Path
    wss_url: str  # the switch's SIP over secure WebSocket, which the page calls through
    speaker: AudioDevices
    handset: AudioDevices
    messaging: MessagingConfig | None
    screen_port: int = DEFAULT_SCREEN_PORT
    # Where a press goes: the switch routes sip:<service>@<domain>.
    service_uri: str = "sip:{service}@{domain}"
    ca_file: Path | None = None  # for HTTPS to the control plane
    heartbeat_period: float = 30.0
    availability_period: float = 300.0
    input_devices: tuple[str, ...] = ()
    probes: Probes | None = None
    # The key the control plane seals this kiosk's commands with (hex); without one, every
    # command and queue message is refused.
    command_key: str | None = None
    # A page that has not reached the switch this long after start counts as a lost link
    # (then out of order after UNREACHABLE_SECONDS), not as "ready in a few seconds".
    switch_grace: float = 15.0

    @property
    def kiosk(self) -> str:
        return self.bundle.kiosk

    @property
    def zone(self) -> tzinfo | None:
        """The deployment's zone from the bundle; a bundle older than that field: the PC's."""
        name = self.bundle.timezone
        return ZoneInfo(name) if name else datetime.now().astimezone().tzinfo

    @property
    def domain(self) -> str:
        return self.bundle.sip.domain

    @classmethod
    def from_bundle(
        cls,
        bundle_dir: Path,
        state_dir: Path,
        screen_port: int | None = None,
        heartbeat_period: float = 30.0,
    ) -> AgentConfig:
        bundle = wire_bundle.read(bundle_dir)
        return cls(
            bundle=bundle,
            state_dir=state_dir,
            wss_url=bundle.sip.page_wss_url,
            speaker=AudioDevices.from_bundle(bundle.speaker_audio, SPEAKER),
            handset=AudioDevices.from_bundle(bundle.handset_audio, HANDSET),
            messaging=MessagingConfig.from_bundle(bundle, bundle_dir),
            screen_port=screen_port or bundle.agent.screen_port,
            ca_file=bundle.ca_path(bundle_dir),
            heartbeat_period=heartbeat_period,
            input_devices=bundle.input_devices,
            command_key=bundle.command_key,
        )


def switch_input(body: bytes) -> events.Input:
    """Queue news from the switch (``application/json``) as a machine input.

    Raises queue_news.NewsError (a ValueError) if the body is no queue news.
    """
    match queue_news.decode(body):
        case queue_news.Position(call, position, wait):
            return events.QueuePosition(call, position, wait)
        case queue_news.WaitEnded(call, message):
            return events.QueueEnded(call, message)
        case queue_news.Connected(call):
            return events.Connected(call)


@dataclass
class KioskAgent:
    config: AgentConfig
    clock: Callable[[], datetime] | None = None  # default: now in the bundle's zone
    screen: Screen = field(default_factory=Screen)
    machine: KioskMachine = field(default_factory=KioskMachine)

    def __post_init__(self) -> None:
        cfg = self.config
        self._clock = self.clock or partial(datetime.now, cfg.zone)
        self.state_dir = cfg.state_dir
        self.phone = PagePhone(self._on_phone_report)
        self.switch_reachable = False  # the page's WebSocket to the switch is open
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.seen = SeenMessages(self.state_dir / "seen-messages.json")
        self.messaging = (
            MessagingEndpoint(cfg.messaging, self._on_message) if cfg.messaging else None
        )
        self.router = CommandRouter(self._send_answer, self.machine.is_current_call)
        self.router.register("text", self._text_command)
        self.router.register("status", self._status_command)
        bundle = cfg.bundle
        verify: bool | str = str(cfg.ca_file) if cfg.ca_file is not None else True
        # display, print and scan: journaled, so a restart finishes or fails each one once.
        self.documents = DocumentCommands(
            journal=Journal(self.state_dir / "documents"),
            printer=Printer(bundle.printer_queue),
            scanner=Scanner(bundle.scanner_device),
            screen=self.screen,
            uplink=ControlPlaneClient(
                bundle.control_plane.url, cfg.kiosk, bundle.sip.password, verify
            ),
            current_call=self._switch_call,
            pages_dir=self.state_dir / "pages",
            answers=self._send_answer,
        )
        register_document_commands(self.router, self.documents)
        # sign: the citizen signs on the screen; the control plane stamps and seals.
        self.signing = SigningPad(
            screen=self.screen,
            current_call=self._switch_call,
            obtain=self.documents.obtain,
            pages_dir=self.state_dir / "pages",
        )
        # Off the messaging loop: fetching and rendering the PDF takes a moment.
        self.router.register(
            "sign",
            lambda command, reply: threading.Thread(
                target=self.signing.handle, args=(command, reply), name="kiosk-sign", daemon=True
            ).start(),
        )
        session = requests.Session()
        if cfg.ca_file is not None:
            session.verify = str(cfg.ca_file)
        # The control plane answers a kiosk's availability only to that kiosk (HTTP Digest).
        session.auth = HTTPDigestAuth(cfg.kiosk, cfg.bundle.sip.password)
        self.availability = AvailabilityCache(
            cfg.bundle.control_plane.url,
            cfg.kiosk,
            self.state_dir / "availability.json",
            session,
        )
        self.keymap = KeyMap.from_bundle(cfg.bundle)
        self._screen_kiosk: dict[str, Any] | None = None  # what the kiosk screen shows
        self.buttons: ButtonReader | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._server: Any = None
        self._stopped = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._apply([events.ShowIdle()])
        self._start_screen()
        self._loop.call_later(self.config.switch_grace, self._check_switch_reached)
        self.documents.start()  # replays the journal: unfinished commands end once
        if self.messaging is not None:
            self.messaging.start()
        for coro in (self._refresh_availability(), self._heartbeats()):
            self._tasks.append(asyncio.create_task(coro))
        devices = keyboards(self.config.input_devices or None)
        self.buttons = ButtonReader(self.keymap, devices, self.feed_action)
        self.buttons.start()
        if self.config.command_key is None:
            log.error("bundle without command_key: every command will be refused; issue a new one")
        log.info("kiosk %s ready; screen on http://127.0.0.1:%s/", self.config.kiosk, self.port)

    async def stop(self) -> None:
        if self.buttons is not None:
            self.buttons.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.messaging is not None:
            await self.messaging.close()
        self.phone.close()
        if self._server is not None:
            self._server.stop()
        self._stopped.set()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.stop()

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else 0

    def _start_screen(self) -> None:
        bundle = self.config.bundle
        kiosk = {
            "id": self.config.kiosk,
            "commune": bundle.commune,
            "buttons": [
                {"service": b.service, "label": b.label} for b in self.config.bundle.buttons
            ],
            "site_agent_phone": bundle.site_agent_phone,
        }
        self._screen_kiosk = kiosk
        self._follow_site_phone()
        sip = self.config.bundle.sip
        phone = {
            "token": self.phone.token,
            "wss_url": self.config.wss_url,
            "uri": f"sip:{sip.user}@{sip.domain}",
            "password": sip.password,
        }
        app = create_screen_app(
            self.screen, kiosk, on_press=lambda s: self.feed_action(Press(s)), phone=phone
        )
        app.register_blueprint(screen_pages_blueprint(self.documents))
        app.register_blueprint(signing_blueprint(self.signing))
        app.register_blueprint(phone_blueprint(self.phone))
        self._server = ThreadedServer(
            app, "127.0.0.1", self.config.screen_port, threads=6, name="screen"
        ).start()

    def _follow_site_phone(self) -> None:
        # The site's help number comes with each availability answer: a change in the panel
        # reaches the screen with no new bundle (which would rotate the SIP secret).
        phone = self.availability.site_agent_phone()
        if phone is not None and self._screen_kiosk is not None:
            self._screen_kiosk["site_agent_phone"] = phone

    # -- inputs ------------------------------------------------------------------------

    def feed_action(self, action: Action) -> None:
        """A button, the hook or the on-screen buttons; callable from any thread."""
        match action:
            case Press(service):
                self._threadsafe(lambda: self.handle(events.Pressed(self._button(service))))
            case HangUp():
                self._threadsafe(lambda: self.handle(events.HangUpPressed()))
            case Hook(lifted):
                self._threadsafe(lambda: self.handle(events.HookChanged(lifted)))

    def handle(self, event: events.Input) -> None:
        """Feed the machine (on the loop) and carry out what it asks."""
        self.machine.now = self._clock()
        self._apply(self.machine.handle(event))

    def _threadsafe(self, call: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(call)

    def _button(self, service: str) -> ButtonStatus:
        return next(b for b in self.idle_buttons() if b.service == service)

    def idle_buttons(self) -> list[ButtonStatus]:
        decisions = {d.get("service"): d for d in self.availability.decisions()}
        now = self._clock()
        out = []
        for button in self.config.bundle.buttons:
            decision = decisions.get(button.service)
            if decision is None:
                # Never heard of the control plane: let the switch decide (it refuses with
                # the reason if the service is closed).
                out.append(ButtonStatus(button.service, button.label, True, "", {}))
            else:
                out.append(describe(decision, button.label, now))
        return out

    def _on_phone_report(self, report: PhoneReport) -> None:
        """A report of the page's phone (a server thread): handled on the loop."""
        self._threadsafe(lambda: self._phone_event(report))

    def _phone_event(self, report: PhoneReport) -> None:
        match report.type:
            case "transport":
                self._switch_link(bool(report.up))
            case "established":
                self.handle(events.CallEstablished(report.call))
            case "failed" if not report.sip and self.machine.phase is Phase.CALLING:
                self.handle(events.DialFailed(report.reason))
            case "ended" | "failed":
                self.handle(events.CallClosed(report.call, report.reason))
                self.documents.call_ended()  # the document leaves the screen with the call
                self.signing.call_ended()  # a signature not yet validated is refused
            case "audio":
                log.info("microphone and speaker: %s", dict(report.fields))
            case "error":
                log.error("kiosk page: %s", report.reason)

    def _check_switch_reached(self) -> None:
        if not self.switch_reachable:
            log.warning("the kiosk page has not reached the switch since the agent started")
            self.handle(events.EngineDown())

    def _switch_link(self, up: bool) -> None:
        if up == self.switch_reachable:
            return
        self.switch_reachable = up
        log.info("kiosk page %s the switch", "reaches" if up else "lost")
        self.handle(events.EngineUp() if up else events.EngineDown())

    def _switch_call(self) -> str | None:
        """The call as the control plane names it (the kiosk leg's UUID), during a call."""
        return self.machine.switch_call if self.machine.phase.in_call else None

    def _on_message(self, message: IncomingMessage) -> int:
        # Commands and queue news come from the control plane (sip:pvp@domain) only: the
        # switch also relays MESSAGEs between registered users, and those are refused.
        if message.sender != CONTROL_PLANE_USER:
            log.warning("MESSAGE from %r refused: not the control plane", message.sender)
            return 403
        kind = media_type(message.content_type)
        if kind not in (COMMAND_TYPE, queue_news.CONTENT_TYPE):
            return 415
        # The From proves nothing (any account can send one): the seal is checked before
        # anything of the body is used, and a refused body reaches no handler and no answer.
        try:
            value = unseal(message.body, self.config.command_key, time.time())
        except SealError as exc:
            log.warning("MESSAGE refused (%s): %s", kind, exc.reason)
            return 403
        except MessageError as exc:
            log.warning("MESSAGE refused (%s): %s", kind, exc.reason)
            return 400
        if not self._first_time(kind, value):
            return 403
        if kind == COMMAND_TYPE:
            return self.router.receive(message.body).sip_status
        if kind == queue_news.CONTENT_TYPE:
            try:
                event = switch_input(message.body)
            except ValueError as exc:
                log.warning("switch message refused: %s", exc)
                return 400
            self.handle(event)
            return 200
        return 415

    def _first_time(self, kind: str, value: dict[str, Any]) -> bool:
        """False for a sealed message taken before (a replay, maybe across a restart).

        A command the router still remembers goes through: it answers a retransmission again
        without running it. Queue messages have no id: their MAC names them.
        """
        ident = value.get("id")
        if kind == COMMAND_TYPE and isinstance(ident, str):
            if self.router.remembers(ident):
                return True
            key = f"command:{ident}"
        else:
            key = f"mac:{value['mac']}"
        if self.seen.first_time(key, value["ts"], time.time()):
            return True
        log.warning("MESSAGE refused: %s already taken (replay)", key)
        return False

    # -- commands ----------------------------------------------------------------------

    def _text_command(self, command: Command, reply: Reply) -> None:
        text = command.args.get("text")
        if text is not None and not isinstance(text, str):
            reply(Answer(command.id, Status.FAILED, "texte invalide"))
            return
        self.handle(events.CounsellorText((text or "").strip()[:MAX_NOTICE] or None))
        reply(Answer(command.id, Status.DONE))

    def _status_command(self, command: Command, reply: Reply) -> None:
        try:
            view = View(str(command.args.get("state")))
        except ValueError:
            reply(Answer(command.id, Status.FAILED, f"état inconnu : {command.args.get('state')}"))
            return
        data = command.args.get("data") or {}
        if not isinstance(data, dict):
            reply(Answer(command.id, Status.FAILED, "données d'état invalides"))
            return
        if view not in COUNSELLOR_VIEWS:
            reply(Answer(command.id, Status.FAILED, f"état non autorisé : {view.value}"))
            return
        self.handle(events.CounsellorView(view, data))
        reply(Answer(command.id, Status.DONE))

    def _send_answer(self, answer: Answer) -> None:
        # Replies may come from worker threads (printing, scanning).
        if self.messaging is None:
            return
        messaging = self.messaging
        self._threadsafe(lambda: self._spawn(self._deliver(messaging.send_answer(answer), answer)))

    async def _deliver(self, sending: Coroutine[Any, Any, int], what: object) -> None:
        try:
            status = await sending
        except Exception as exc:
            log.error("%s not delivered: %s", what, exc)
            return
        if not 200 <= status < 300:
            log.error("%s refused by the switch: %s", what, status)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    # -- effects -----------------------------------------------------------------------

    def _apply(self, effects: list[events.Effect]) -> None:
        for effect in effects:
            match effect:
                case events.Show(view, data):
                    self.screen.show(view, **data)
                case events.ShowIdle():
                    self.screen.show(View.IDLE, buttons=[b.__dict__ for b in self.idle_buttons()])
                case events.SetNotice(text):
                    self.screen.set_notice(text)
                case events.Dial(service):
                    self._dial(service)
                case events.HangUpCall():
                    self.phone.send("hangup")
                case events.SendKeyframes():
                    self.phone.send("keyframe")
                case events.UseAudio(handset):
                    self.phone.send("audio", audio=self._audio(handset).as_json())
                case events.TellCounsellor(private):
                    self._tell_counsellor(private)
                case events.StartNoticeTimer(token, seconds):
                    assert self._loop is not None
                    self._loop.call_later(seconds, self.handle, events.NoticeExpired(token))
                case events.StartTimer(timer, token, seconds):
                    assert self._loop is not None
                    self._loop.call_later(seconds, self.handle, events.TimerFired(timer, token))

    def _audio(self, handset: bool) -> AudioDevices:
        return self.config.handset if handset else self.config.speaker

    def _dial(self, service: str) -> None:
        uri = self.config.service_uri.format(service=service, domain=self.config.domain)
        audio = self._audio(self.machine.handset_lifted).as_json()
        if not self.phone.send("dial", target=uri, audio=audio):
            assert self._loop is not None  # after this effect, not inside it
            self._loop.call_soon(self.handle, events.DialFailed("the kiosk page is not open"))

    def _tell_counsellor(self, private: bool) -> None:
        if self.messaging is None:
            return
        state, text = ("private", "conversation privée") if private else ("public", "haut-parleur")
        body = encode_status(self.config.kiosk, self.machine.sip_call_id, state, text)
        sending = self.messaging.send_message(self.messaging.config.control_user, STATUS_TYPE, body)
        self._spawn(self._deliver(sending, f"status {state}"))

    # -- periodic work -----------------------------------------------------------------

    async def _refresh_availability(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if await loop.run_in_executor(None, self.availability.refresh):
                self._follow_site_phone()
                self.handle(events.AvailabilityChanged())
            await asyncio.sleep(self.config.availability_period)

    async def _heartbeats(self) -> None:
        bundle, loop = self.config.bundle, asyncio.get_running_loop()
        probes = self.config.probes or Probes(
            printer=printer_probe(bundle.printer_queue),
            scanner_present=scanner_probe(bundle.scanner_device),
            camera_present=camera_present,
            disk_path=self.state_dir,
        )
        sender = HeartbeatSender(
            bundle.control_plane.url,
            self.config.kiosk,
            bundle.sip.password,
            ca_file=self.config.ca_file,
        )
        # A registration gained or lost is reported at once, not up to a period later.
        changed, reported = asyncio.Event(), [False]
        if self.messaging is not None:
            self.messaging.add_listener(
                lambda state: (
                    changed.set()
                    if (state is RegistrationState.REGISTERED) != reported[0]
                    else None
                )
            )
            try:
                await self.messaging.wait_registered(FIRST_BEAT_WAIT)
            except TimeoutError:
                log.warning("first heartbeat: not registered after %.0f s", FIRST_BEAT_WAIT)
        while True:
            changed.clear()
            beat = await loop.run_in_executor(
                None,
                lambda: gather(
                    probes,
                    sip_registered=self.sip_registered,
                    ua_alive=self.ua_alive,
                    screen_state=self.screen.current().view.value,
                ),
            )
            reported[0] = beat.sip_registered
            await loop.run_in_executor(None, sender.send, beat)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self.config.heartbeat_period)

    @property
    def sip_registered(self) -> bool:
        return self.messaging is not None and self.messaging.registered

    @property
    def ua_alive(self) -> bool:
        """The page's phone is listening and reaches the switch."""
        return self.phone.page_connected and self.switch_reachable

    def request_stop(self) -> None:
        self._stopped.set()


async def run_agent(config: AgentConfig) -> None:
    """Run until SIGTERM or SIGINT; stop cleanly (unregistered, screen server closed)."""
    agent = KioskAgent(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, agent.request_stop)
    await agent.run_forever()
