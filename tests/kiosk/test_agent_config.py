"""The agent's configuration from a real bundle written by `pvp provision bundle`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvp.bundle import write_bundle
from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.kiosk.agent import AgentConfig, switch_input
from pvp.kiosk.phone import AudioDevices
from pvp.kiosk.state import Connected, QueueEnded, QueuePosition
from pvp.messages import Sealer, unseal


def test_a_provisioned_bundle_gives_the_page_phone_messaging_and_devices(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    settings.ca_file = str(tmp_path / "ca.pem")
    Path(settings.ca_file).write_text("-----BEGIN CERTIFICATE-----\n")
    with db.session() as session:
        write_bundle(session, settings, "kiosk-vorey-1", tmp_path / "bundle")
    cfg = AgentConfig.from_bundle(tmp_path / "bundle", tmp_path / "state")
    bundle = json.loads((tmp_path / "bundle" / "kiosk.json").read_text())

    assert cfg.wss_url == f"wss://{settings.sip_host}:{settings.sip_wss_port}"
    assert cfg.ca_file == tmp_path / "bundle" / "ca.pem"
    assert cfg.messaging is not None and cfg.messaging.password == bundle["sip"]["password"]
    assert (cfg.messaging.host, cfg.messaging.port) == (settings.sip_host, settings.sip_tls_port)
    assert cfg.handset == AudioDevices("handset", "handset")
    assert cfg.speaker == AudioDevices("", "")  # the system's default devices
    # The command key is this kiosk's: the control plane seals with the same one.
    sealer = Sealer(settings.secret("kiosk_command_key"))
    assert cfg.command_key == sealer.key("kiosk-vorey-1") != sealer.key("kiosk-langeac-1")
    assert unseal(sealer("kiosk-vorey-1", '{"type":"connected"}'), cfg.command_key, time.time())


def test_a_bundle_naming_devices_wrongly_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="audio devices"):
        AudioDevices.from_bundle({"input": 3}, AudioDevices())
    with pytest.raises(ValueError, match="audio devices"):
        AudioDevices.from_bundle("alsa,handset", AudioDevices())


def test_switch_messages() -> None:
    assert switch_input(b'{"type":"queue","call":"u1","position":2,"wait":60}') == QueuePosition(
        "u1", 2, 60
    )
    assert switch_input(b'{"type":"queue_end","call":"u1","message":"Fin"}') == QueueEnded(
        "u1", "Fin"
    )
    assert switch_input(b'{"type":"connected","call":"u1"}') == Connected("u1")
    for bad in (b"[]", b'{"type":"queue","position":"2"}', b'{"type":"x"}'):
        try:
            switch_input(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_pvp_kiosk_refuses_an_unusable_bundle(tmp_path: Path) -> None:
    (tmp_path / "kiosk.json").write_text('{"kiosk": "k"}')
    result = CliRunner().invoke(main, ["kiosk", "--bundle", str(tmp_path)])
    assert result.exit_code == 2
    assert "unusable bundle" in result.output
