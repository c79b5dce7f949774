"""``pvp serve``: the control plane's processes, started and stopped together."""

from __future__ import annotations

import logging

import click
from waitress import serve

from pvp.config import Settings
from pvp.db import Database
from pvp.panel.alerts import start_watcher
from pvp.web import create_app

log = logging.getLogger("pvp.server")


def run(settings: Settings, db: Database, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings, db)
    start_watcher(settings, db)  # supervision alerts, checked in the background
    click.echo(
        f"PVP control plane: http://{host}:{port}/ (panel), /api/v1/kiosks (database {db.url})"
    )
    serve(app, host=host, port=port, threads=8, ident="pvp")
