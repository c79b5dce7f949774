"""``pvp serve``: the control plane's processes, started and stopped together.

HTTP (the JSON API, mod_xml_curl's directory and dialplan, the panel), the expert-queue
dispatcher on FreeSWITCH's event socket, the refresher of the static fallback, the
supervision alerts and, where present, FreeSWITCH itself as a child process.
"""

from __future__ import annotations

import logging
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flask import Flask
from waitress.server import create_server

from pvp.clock import Clock
from pvp.common.errors import PvpError
from pvp.config import Settings
from pvp.db import Database
from pvp.deploy.leader import Leadership, Stoppable
from pvp.dispatcher.worker import DispatchWorker, start_dispatcher
from pvp.freeswitch.authguard import FAILURE_EVENT, AuthGuard
from pvp.freeswitch.process import WHERE, FreeSwitch, find_binary
from pvp.freeswitch.refresh import FallbackRefresher

log = logging.getLogger("pvp.server")


class FreeSwitchUnavailable(
    PvpError, RuntimeError, code="freeswitch_unavailable", summary="FreeSWITCH indisponible"
):
    """``run_freeswitch = "on"`` and FreeSWITCH cannot be started."""


@dataclass
class Services:
    """What runs beside the HTTP server: the dispatcher and the fallback refresher."""

    worker: DispatchWorker
    refresher: FallbackRefresher | None = None
    stopped: bool = field(default=False, init=False)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.refresher is not None:
            self.refresher.stop()
        self.worker.stop()


def start_services(settings: Settings, db: Database, app: Flask, **dispatcher: Any) -> Services:
    """Start the dispatcher (with the app's clock) and, if a conf dir is set, the refresher.

    The same composition serves ``pvp serve`` and the live tests' control plane.
    """
    clock: Clock = app.extensions["pvp.clock"]
    # The dispatcher connects to FreeSWITCH in the background and keeps retrying.
    worker = start_dispatcher(settings, db, clock.now, **dispatcher)
    app.extensions["pvp.dispatcher"] = worker
    guard: AuthGuard = app.extensions["pvp.sip_guard"]
    worker.esl.on(FAILURE_EVENT, guard.on_event)
    # FreeSWITCH may hold a user's entry in its cache: forget them all, so the blocked
    # address's next try asks the directory (which answers it a decoy).
    guard.on_block = lambda block: _flush_directory_cache(worker.esl)
    refresher = None
    if settings.freeswitch_conf_dir:
        refresher = FallbackRefresher(
            settings, db, Path(settings.freeswitch_conf_dir), clock, esl=worker.esl
        )
        refresher.start()
    return Services(worker, refresher)


def _flush_directory_cache(esl: Any) -> None:
    try:
        esl.bgapi("xml_flush_cache")
    except Exception as exc:  # the switch away: nothing cached there either
        log.warning("xml_flush_cache after a SIP block failed: %s", exc)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_freeswitch(settings: Settings, db: Database, clock: Clock) -> FreeSwitch | None:
    """FreeSWITCH as a child, on PVP's rendered configuration; None when not wanted or found.

    Its configuration is rendered into ``freeswitch_conf_dir`` (default
    ``data_dir/freeswitch/conf``), its runtime files go to ``data_dir/freeswitch/run``. With
    no ``freeswitch_certs_dir``, self-signed demo certificates are made once in
    ``data_dir/freeswitch/certs``: a real site installs its own PKI's files.
    """

    from pvp.freeswitch.certs import certs_dir, write_demo_certs
    from pvp.freeswitch.render import render

    mode = settings.run_freeswitch
    if mode == "off":
        return None
    binary = find_binary(settings)
    if binary is None:
        if mode == "on":
            raise FreeSwitchUnavailable(f"FreeSWITCH not found: {WHERE}")
        log.info("FreeSWITCH not found (%s): the control plane runs without it", WHERE)
        return None
    if _answers(settings.esl_host, settings.esl_port):
        message = (
            f"something already answers on the event socket {settings.esl_host}:"
            f"{settings.esl_port}: FreeSWITCH not started (the dispatcher uses that one)"
        )
        if mode == "on":
            raise FreeSwitchUnavailable(message)
        log.warning(message)
        return None
    home = settings.data_dir / "freeswitch"
    conf = Path(settings.freeswitch_conf_dir or home / "conf")
    certs = certs_dir(settings)
    today = clock.now().astimezone(settings.zone).date()
    render(settings, db, conf, today)
    missing = [name for name in ("agent.pem", "wss.pem") if not (certs / name).exists()]
    if missing:
        if settings.freeswitch_certs_dir:
            raise FreeSwitchUnavailable(f"no {', '.join(missing)} in freeswitch_certs_dir {certs}")
        ca = write_demo_certs(settings)
        log.warning(
            "FreeSWITCH uses self-signed demo certificates from %s; `pvp provision bundle`"
            " gives kiosks their CA %s",
            certs,
            ca,
        )
    switch = FreeSwitch(binary, conf, home / "run", certs)
    switch.start()
    return switch


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl-C, so the children are stopped in order."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def run(settings: Settings, db: Database, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from pvp.convocations import start_mailer
    from pvp.documents.switch import start as start_documents
    from pvp.panel.alerts import start_watcher
    from pvp.web.app import create_app
    from pvp.web.limits import largest_body

    # The address served is the one FreeSWITCH's bindings must reach.
    settings = settings.model_copy(update={"http_host": host, "http_port": port})
    app = create_app(settings, db)
    # Bound before FreeSWITCH starts: its first requests wait in the backlog.
    # waitress' own bound (1 GiB by default) cut to the largest route's: see pvp.web.limits.
    server = create_server(
        app,
        host=host,
        port=port,
        threads=8,
        ident="pvp",
        max_request_body_size=largest_body(settings),
        asyncore_use_poll=True,
    )
    switch = start_freeswitch(settings, db, app.extensions["pvp.clock"])
    if switch is not None:
        settings = settings.model_copy(update={"freeswitch_conf_dir": str(switch.conf)})
    services: Stoppable | None = None
    documents: Any = None
    _stop_on_sigterm()
    try:
        # Over PostgreSQL several control planes may run: one dispatcher leader among them.
        leadership = services = Leadership(
            db.engine,
            lambda: start_services(settings, db, app),
            stopped=lambda: app.extensions.pop("pvp.dispatcher", None),
        )
        # The documents: commands through chat, answers and fax results (the leader's), on
        # their own ESL link.
        documents, app.extensions["pvp.fax"] = start_documents(
            settings, app.extensions["pvp.documents"], lambda: leadership.running is not None
        )
        start_watcher(settings, db)  # supervision alerts, checked in the background
        start_mailer(settings, db)  # citizens' convocations, reminders and notices
        click.echo(
            f"PVP control plane: http://{host}:{port}/ (panel), /api/v1/kiosks (database {db.url})"
        )
        if switch is not None:
            s = settings
            click.echo(
                f"FreeSWITCH (pid {switch.proc.pid if switch.proc else '?'}): SIP "
                f"udp+tcp {s.sip_host}:{s.sip_port}, tls {s.sip_host}:{s.sip_tls_port}, "
                f"event socket {s.esl_host}:{s.esl_port}; configuration {switch.conf}, "
                f"log {switch.log_file}"
            )
        elif settings.run_freeswitch != "off":
            click.echo(
                f"FreeSWITCH not started here; the dispatcher connects to "
                f"{settings.esl_host}:{settings.esl_port}"
            )
        server.run()  # returns on Ctrl-C or SIGTERM
    finally:
        if documents is not None:
            documents.stop()
        if services is not None:
            services.stop()
        if switch is not None:
            switch.stop()
        server.close()
