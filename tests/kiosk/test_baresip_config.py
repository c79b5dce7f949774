"""The baresip configuration directory written from typed values (no baresip needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pvp.kiosk.baresip import (
    BaresipConfig,
    BaresipModuleMissing,
    Contact,
    MediaDevice,
    MediaEncryption,
    SipAccount,
    Transport,
    write_config_dir,
)

BUNDLE = {
    "kiosk": "kiosk-vorey-1",
    "site": "vorey",
    "sip": {
        "domain": "pvp.auvergne.test",
        "user": "kiosk-vorey-1",
        "password": "Zr8-kQ_2xT",
        "registrar_host": "127.0.0.1",
        "registrar_port": 5061,
        "transport": "tls",
    },
    "control_plane": {"url": "https://127.0.0.1:8443"},
    "ca_file": "ca.pem",
    "buttons": [{"service": "anpe", "key": "KEY_F1", "label": "ANPE"}],
    "hangup_key": "KEY_ESC",
}


def fake_module_dir(tmp_path: Path, names: list[str]) -> Path:
    directory = tmp_path / "modules"
    directory.mkdir()
    for name in names:
        (directory / f"{name}.so").touch()
    return directory


def kiosk_config(tmp_path: Path, **overrides: object) -> BaresipConfig:
    values: dict[str, object] = {
        "account": SipAccount.from_bundle(BUNDLE),
        "ctrl_port": 4444,
        "sip_port": 5070,
        "module_dir": tmp_path / "modules",
    }
    values.update(overrides)
    return BaresipConfig(**values)  # type: ignore[arg-type]


def test_bundle_account_registers_over_tls_with_mandatory_srtp() -> None:
    line = SipAccount.from_bundle(BUNDLE).account_line()
    assert line.startswith("<sip:kiosk-vorey-1@pvp.auvergne.test;transport=tls>;")
    assert ";auth_pass=Zr8-kQ_2xT" in line
    assert ';outbound="sip:127.0.0.1:5061;transport=tls"' in line
    assert ";mediaenc=srtp-mand" in line
    assert ";regint=300" in line
    assert ";answermode=manual" in line


def test_account_without_registrar_does_not_register() -> None:
    account = SipAccount("bob", "127.0.0.1", transport=Transport.UDP, mediaenc=MediaEncryption.NONE)
    assert account.account_line() == "<sip:bob@127.0.0.1;transport=udp>;regint=0;answermode=manual"
    assert account.mediaenc is MediaEncryption.NONE


def test_bundle_without_sip_section_is_refused() -> None:
    with pytest.raises(ValueError, match="sip"):
        SipAccount.from_bundle({"kiosk": "kiosk-vorey-1"})


@pytest.mark.parametrize(
    "changes",
    [
        {"user": "kiosk vorey"},
        {"user": "<evil>"},
        {"domain": "pvp.test;transport=udp"},
        {"password": "a;b"},
        {"password": 'quo"te'},
        {"password": ""},
        {"registrar_port": 70000},
        {"transport": "sctp"},
        {"mediaenc": "zrtp"},
    ],
)
def test_account_values_that_would_corrupt_the_file_are_refused(changes: dict) -> None:
    values = {**BUNDLE["sip"], **changes}  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        SipAccount.from_bundle({"sip": values})


def test_register_interval_has_a_floor() -> None:
    with pytest.raises(ValueError, match="register_interval"):
        SipAccount("kiosk-vorey-1", "pvp.test", registrar_host="127.0.0.1", register_interval=5)


def test_media_device_parsing() -> None:
    assert MediaDevice.parse("v4l2,/dev/video0") == MediaDevice("v4l2", "/dev/video0")
    assert str(MediaDevice("ausine", "440")) == "ausine,440"
    for bad in ("nocomma", "ALSA,default", "alsa,two words", "httpd,nil", "alsa,#x"):
        with pytest.raises(ValueError):
            MediaDevice.parse(bad)


def test_written_directory_loads_only_needed_modules(tmp_path: Path) -> None:
    config = kiosk_config(tmp_path, ca_file=Path("/etc/pvp/ca.pem"))
    fake_module_dir(tmp_path, [*config.modules(), *config.app_modules(), "uuid", "account"])
    directory = write_config_dir(config, tmp_path / "conf")

    text = (directory / "config").read_text()
    lines = [line.partition("\t") for line in text.splitlines()]
    modules = [value for key, _, value in lines if key in ("module", "module_tmp", "module_app")]
    assert modules == [
        "opus.so",
        "g711.so",
        "vp8.so",
        "srtp.so",
        "alsa.so",
        "v4l2.so",
        "sdl.so",
        "uuid.so",
        "account.so",
        "menu.so",
        "ctrl_tcp.so",
    ]
    assert "httpd" not in text and "stdio" not in text
    assert "ctrl_tcp_listen\t127.0.0.1:4444\n" in text
    assert "sip_listen\t127.0.0.1:5070\n" in text
    assert "net_interface\t127.0.0.1\n" in text  # "lo" does not work
    assert "ausrc_srate\t48000\n" in text and "ausrc_channels\t2\n" in text
    assert "sip_cafile\t/etc/pvp/ca.pem\n" in text
    assert (directory / "accounts").read_text() == config.account.account_line() + "\n"
    assert (directory / "contacts").read_text() == ""
    # The accounts file holds the SIP password.
    for name in ("config", "accounts", "contacts"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    assert not list(directory.glob("*.tmp"))


def test_test_devices_recording_snapshots_and_contacts(tmp_path: Path) -> None:
    config = kiosk_config(
        tmp_path,
        account=SipAccount(
            "alice", "127.0.0.1", transport=Transport.UDP, mediaenc=MediaEncryption.NONE
        ),
        audio_source=MediaDevice("ausine", "440"),
        audio_player=MediaDevice("aubridge", "speaker"),
        video_source=MediaDevice("fakevideo", "nil"),
        video_display=MediaDevice("fakevideo", "nil"),
        record_dir=tmp_path / "rec",
        snapshots=True,
        contacts=[Contact("Accueil Vorey", "sip:accueil-vorey@pvp.test")],
    )
    assert config.modules() == [
        "opus",
        "g711",
        "vp8",
        "sndfile",
        "snapshot",
        "ausine",
        "aubridge",
        "fakevideo",
    ]
    assert config.app_modules() == ["contact", "menu", "ctrl_tcp"]
    fake_module_dir(tmp_path, [*config.modules(), *config.app_modules(), "uuid", "account"])
    directory = write_config_dir(config, tmp_path / "conf")
    assert f"snd_path\t{tmp_path / 'rec'}\n" in (directory / "config").read_text()
    assert (tmp_path / "rec").is_dir()
    contacts = (directory / "contacts").read_text()
    assert contacts == '"Accueil Vorey" <sip:accueil-vorey@pvp.test>\n'


def test_missing_module_fails_before_writing(tmp_path: Path) -> None:
    fake_module_dir(tmp_path, ["opus", "g711", "vp8", "srtp", "alsa", "v4l2", "menu"])
    with pytest.raises(BaresipModuleMissing, match="sdl, ctrl_tcp, uuid, account"):
        write_config_dir(kiosk_config(tmp_path), tmp_path / "conf")
    assert not (tmp_path / "conf").exists()


def test_ctrl_port_cannot_take_the_sip_tls_port(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="collides"):
        kiosk_config(tmp_path, ctrl_port=5071)
