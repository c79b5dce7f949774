"""The agent's configuration from a real bundle written by `pvp provision bundle`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from pvp.bundle import write_bundle
from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.kiosk import french
from pvp.kiosk.agent import AgentConfig, switch_input
from pvp.kiosk.cli import main as kiosk_main
from pvp.kiosk.events import Connected, QueueEnded, QueuePosition
from pvp.kiosk.phone import AudioDevices
from pvp.wire.bundle import BundleError
from pvp.wire.messages import Sealer, unseal


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


def test_the_kiosk_speaks_of_times_in_the_deployments_zone(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # A deployment in French Guiana: the zone comes from the settings, through the bundle.
    settings.timezone = "America/Cayenne"
    settings.ca_file = str(tmp_path / "ca.pem")
    Path(settings.ca_file).write_text("-----BEGIN CERTIFICATE-----\n")
    with db.session() as session:
        write_bundle(session, settings, "kiosk-vorey-1", tmp_path / "bundle")
    cfg = AgentConfig.from_bundle(tmp_path / "bundle", tmp_path / "state")
    assert cfg.zone == ZoneInfo("America/Cayenne")
    now = datetime(2006, 11, 14, 12, 0, tzinfo=cfg.zone)
    opens = datetime(2006, 11, 15, 12, 0, tzinfo=UTC)  # 9 h in Cayenne, 13 h in Paris
    assert french.opening(opens, now) == "demain à 9\u00a0h\u00a000"


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


# `pvp-kiosk run` on a kiosk PC; `pvp kiosk` where the control plane is installed too.
@pytest.mark.parametrize(("command", "args"), [(kiosk_main, ["run"]), (main, ["kiosk"])])
def test_the_kiosk_command_refuses_an_unusable_bundle(
    tmp_path: Path, command: click.Command, args: list[str]
) -> None:
    (tmp_path / "kiosk.json").write_text('{"kiosk": "k"}')
    result = CliRunner().invoke(command, [*args, "--bundle", str(tmp_path)])
    assert result.exit_code == 2
    assert "unusable bundle" in result.output


def test_a_bundle_that_does_not_fit_is_refused_naming_each_field(tmp_path: Path) -> None:
    bundle = {
        "kiosk": "kiosk-vorey-1",
        "sip": {"domain": "pvp.test", "user": "kiosk-vorey-1", "registrar_host": "fs"},
        "control_plane": {"url": "https://pvp.test"},
        "buttons": [{"service": "msa", "key": "KEY_F1"}],
        "agent": {"screen_port": "huit mille"},
    }
    (tmp_path / "kiosk.json").write_text(json.dumps(bundle))
    with pytest.raises(BundleError) as refused:
        AgentConfig.from_bundle(tmp_path, tmp_path / "state")
    assert "sip.password: Field required" in str(refused.value)
    assert "agent.screen_port: Input should be a valid integer" in str(refused.value)
    (tmp_path / "kiosk.json").write_text("{")
    with pytest.raises(BundleError, match="not JSON"):
        AgentConfig.from_bundle(tmp_path, tmp_path / "state")
