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
    from pvp.dispatcher.worker import start_dispatcher
    from pvp.documents.switch import start as start_documents

    app = create_app(settings, db)
    start_watcher(settings, db)  # supervision alerts, checked in the background
    # The dispatcher connects to FreeSWITCH in the background and keeps retrying.
    worker = app.extensions["pvp.dispatcher"] = start_dispatcher(settings, db)
    # The documents: commands through chat, answers and fax results, on their own ESL link.
    documents, app.extensions["pvp.fax"] = start_documents(
        settings, app.extensions["pvp.documents"]
    )
    click.echo(
        f"PVP control plane: http://{host}:{port}/ (panel), /api/v1/kiosks (database {db.url})"
    )
    try:
        serve(app, host=host, port=port, threads=8, ident="pvp")
    finally:
        documents.stop()
        worker.stop()
