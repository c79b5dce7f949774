"""The agent's heartbeat reaches the real control plane (Flask app on waitress) with Digest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvp.cli import main
from pvp.common.serving import ThreadedServer
from pvp.config import Settings
from pvp.db import Database
from pvp.kiosk.heartbeat import HeartbeatSender, Probes, gather
from pvp.provisioning import rotate_secret
from pvp.web.app import create_app
from pvp.wire.heartbeat import PrinterHealth


@pytest.fixture
def control_plane(db: Database, settings: Settings) -> Iterator[str]:
    server = ThreadedServer(create_app(settings, db), "127.0.0.1", 0, threads=2).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def test_heartbeat_is_sent_and_shown_by_pvp_kiosks(
    control_plane: str, db: Database, settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    with db.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)

    def broken_scanner() -> bool:
        raise OSError("SANE crashed")

    probes = Probes(
        printer=lambda: PrinterHealth(
            state="stopped", reasons=["media_empty"], message="plus de papier"
        ),
        scanner_present=broken_scanner,
        camera_present=lambda: True,
        disk_path=tmp_path,
    )
    beat = gather(probes, sip_registered=True, ua_alive=True, screen_state="idle")
    assert beat.scanner_present is None, "a failing probe reports 'unknown', not a crash"
    assert beat.disk_free_mb and beat.disk_free_mb > 0
    assert HeartbeatSender(control_plane, "kiosk-vorey-1", secret).send(beat)
    assert not HeartbeatSender(control_plane, "kiosk-vorey-1", "wrong").send(beat)

    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    shown = CliRunner().invoke(main, ["kiosks", "--json"])
    kiosk = next(k for k in json.loads(shown.output) if k["id"] == "kiosk-vorey-1")
    assert kiosk["online"] is True
    assert kiosk["devices"]["printer"]["reasons"] == ["media_empty"]
    assert kiosk["devices"]["screen_state"] == "idle"
