"""``pvp serve``: the control plane's processes, started and stopped together.

HTTP (the JSON API, mod_xml_curl's directory and dialplan, the panel), the expert-queue
dispatcher on FreeSWITCH's event socket, the refresher of the static fallback and the
supervision alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask
from waitress import serve

from pvp.clock import Clock
from pvp.config import Settings
from pvp.db import Database
from pvp.dispatcher.worker import DispatchWorker, start_dispatcher
from pvp.freeswitch.refresh import FallbackRefresher

log = logging.getLogger("pvp.server")


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
    refresher = None
    if settings.freeswitch_conf_dir:
        refresher = FallbackRefresher(
            settings, db, Path(settings.freeswitch_conf_dir), clock, esl=worker.esl
        )
        refresher.start()
    return Services(worker, refresher)


def run(settings: Settings, db: Database, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from pvp.panel.alerts import start_watcher
    from pvp.web import create_app

    app = create_app(settings, db)
    start_watcher(settings, db)  # supervision alerts, checked in the background
    services = start_services(settings, db, app)
    click.echo(
        f"PVP control plane: http://{host}:{port}/ (panel), /api/v1/kiosks (database {db.url})"
    )
    try:
        serve(app, host=host, port=port, threads=8, ident="pvp")
    finally:
        services.stop()
