"""A baresip 1.0 configuration directory (``config``, ``accounts``, ``contacts``) from typed values.

Only the modules the configuration uses are loaded: no console UI (stdio, cons) and never
``httpd.so``, which serves an unauthenticated control page to anyone on the network.
"""

from __future__ import annotations

import enum
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvp.kiosk.baresip.errors import BaresipModuleMissing

MODULE_DIRS = (
    Path("/usr/lib/baresip/modules"),
    Path("/usr/local/lib/baresip/modules"),
    Path("/usr/lib/x86_64-linux-gnu/baresip/modules"),
    Path("/usr/lib/aarch64-linux-gnu/baresip/modules"),
)
# Modules that must never be loaded on a kiosk, whatever a device string asks for.
FORBIDDEN_MODULES = frozenset({"httpd", "cons", "stdio", "mqtt"})
# Audio codecs in order of preference (Opus and VP8 pass FreeSWITCH untouched), then video.
CODEC_MODULES = ("opus", "g711", "vp8")

_TOKEN = re.compile(r"[A-Za-z0-9._~+-]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+")
_DRIVER = re.compile(r"[a-z0-9_]+")
# Characters that would end or comment out a value in baresip's line-oriented files.
_UNSAFE = re.compile(r"[\s;\"#<>\\,]")


class Transport(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class MediaEncryption(enum.StrEnum):
    NONE = "none"
    SRTP_MANDATORY = "srtp-mand"
    DTLS_SRTP = "dtls_srtp"


_MENC_MODULE = {MediaEncryption.SRTP_MANDATORY: "srtp", MediaEncryption.DTLS_SRTP: "dtls_srtp"}


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _check_port(port: int, what: str) -> int:
    if not 0 < port < 65536:
        raise ValueError(f"invalid {what}: {port}")
    return port


@dataclass(frozen=True, slots=True)
class MediaDevice:
    """A baresip device, ``driver,device``: ``ausine,440``, ``alsa,default``"""

    driver: str
    device: str = "nil"

    def __post_init__(self) -> None:
        _check(_DRIVER, self.driver, "device driver")
        if not self.device or re.search(r"[\s#,]", self.device):
            raise ValueError(f"invalid device name: {self.device!r}")
        if self.driver in FORBIDDEN_MODULES:
            raise ValueError(f"module {self.driver!r} is not allowed on a kiosk")

    @classmethod
    def parse(cls, text: str) -> MediaDevice:
        driver, sep, device = text.partition(",")
        if not sep:
            raise ValueError(f"device must be 'driver,device', got {text!r}")
        return cls(driver, device)

    def __str__(self) -> str:
        return f"{self.driver},{self.device}"


@dataclass(frozen=True, slots=True)
class SipAccount:
    """The kiosk's SIP identity. Without ``registrar_host`` it does not register (direct calls)."""

    user: str
    domain: str
    password: str | None = None
    registrar_host: str | None = None
    registrar_port: int = 5061
    transport: Transport = Transport.TLS
    mediaenc: MediaEncryption = MediaEncryption.SRTP_MANDATORY
    outbound_proxy: str | None = None
    display_name: str | None = None
    register_interval: int = 300

    def __post_init__(self) -> None:
        _check(_TOKEN, self.user, "SIP user")
        _check(_HOST, self.domain, "SIP domain")
        object.__setattr__(self, "transport", Transport(self.transport))
        object.__setattr__(self, "mediaenc", MediaEncryption(self.mediaenc))
        if self.password is not None and (not self.password or _UNSAFE.search(self.password)):
            raise ValueError("SIP password is empty or has a character baresip cannot read back")
        if self.registrar_host is not None:
            _check(_HOST, self.registrar_host, "registrar host")
        _check_port(self.registrar_port, "registrar port")
        if self.outbound_proxy is not None and (
            not self.outbound_proxy.startswith("sip:")
            or re.search(r"[\s\"<>#]", self.outbound_proxy)
        ):
            raise ValueError(f"invalid outbound proxy: {self.outbound_proxy!r}")
        if self.display_name is not None:
            _check(re.compile(r"[\w .'-]+"), self.display_name, "display name")
        if self.register_interval < 60:
            raise ValueError("register_interval below 60 s floods the registrar")

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def registers(self) -> bool:
        return self.registrar_host is not None

    def outbound(self) -> str | None:
        """Where REGISTER and INVITE go: the explicit proxy, else the registrar."""
        if self.outbound_proxy is not None:
            return self.outbound_proxy
        if self.registrar_host is None:
            return None
        return f"sip:{self.registrar_host}:{self.registrar_port};transport={self.transport}"

    def account_line(self) -> str:
        """The line of baresip's ``accounts`` file."""
        name = f'"{self.display_name}" ' if self.display_name else ""
        params = [f"regint={self.register_interval if self.registers else 0}", "answermode=manual"]
        if self.password is not None:
            params.append(f"auth_pass={self.password}")
        if (outbound := self.outbound()) is not None:
            params.append(f'outbound="{outbound}"')
        if self.mediaenc is not MediaEncryption.NONE:
            params.append(f"mediaenc={self.mediaenc}")
        return f"{name}<{self.aor};transport={self.transport}>;" + ";".join(params)

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any]) -> SipAccount:
        """The account of a control-plane kiosk bundle (``kiosk.json``)."""
        try:
            sip = bundle["sip"]
            return cls(
                user=sip["user"],
                domain=sip["domain"],
                password=sip["password"],
                registrar_host=sip["registrar_host"],
                registrar_port=int(sip.get("registrar_port", 5061)),
                transport=Transport(sip.get("transport", Transport.TLS)),
                mediaenc=MediaEncryption(sip.get("mediaenc", MediaEncryption.SRTP_MANDATORY)),
                outbound_proxy=sip.get("outbound_proxy"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"kiosk bundle has no usable 'sip' section: missing {exc}") from exc


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    uri: str

    def __post_init__(self) -> None:
        _check(re.compile(r"[\w .'-]+"), self.name, "contact name")
        if not self.uri.startswith(("sip:", "sips:")) or _UNSAFE.search(self.uri):
            raise ValueError(f"invalid contact URI: {self.uri!r}")


@dataclass(frozen=True, slots=True)
class BaresipConfig:
    """Everything a baresip instance of a kiosk needs.

    ``listen_host`` is both the SIP listen address and ``net_interface`` (the address put
    in SDP): 127.0.0.1 in tests, the kiosk's LAN address on a kiosk (RTP itself binds
    0.0.0.0 whatever is set). ctrl_tcp is unauthenticated, so it only ever listens on
    loopback.
    """

    account: SipAccount
    ctrl_port: int
    sip_port: int
    listen_host: str = "127.0.0.1"
    audio_source: MediaDevice = MediaDevice("alsa", "default")
    audio_player: MediaDevice = MediaDevice("alsa", "default")
    audio_alert: MediaDevice | None = None
    video_source: MediaDevice = MediaDevice("v4l2", "/dev/video0")
    video_display: MediaDevice = MediaDevice("sdl", "nil")
    video_size: tuple[int, int] = (640, 480)
    video_fps: int = 25
    video_bitrate: int = 1_000_000
    record_dir: Path | None = None
    snapshots: bool = False
    contacts: Sequence[Contact] = ()
    ca_file: Path | None = None
    module_dir: Path | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_port(self.ctrl_port, "ctrl_tcp port")
        _check_port(self.sip_port, "SIP port")
        _check(_HOST, self.listen_host, "listen host")
        if self.ctrl_port in (self.sip_port, self.sip_port + 1):
            raise ValueError("ctrl_tcp port collides with SIP (baresip takes sip_port and +1)")
        for key, value in self.extra.items():
            _check(re.compile(r"[a-z0-9_]+"), key, "config key")
            if "\n" in value or "#" in value:
                raise ValueError(f"invalid value for {key}")

    def modules(self) -> list[str]:
        """The ``module`` lines: codecs, media encryption, filters, device drivers."""
        names = list(CODEC_MODULES)
        if (menc := _MENC_MODULE.get(self.account.mediaenc)) is not None:
            names.append(menc)
        if self.record_dir is not None:
            names.append("sndfile")
        if self.snapshots:
            names.append("snapshot")
        devices = [self.audio_source, self.audio_player, self.alert, self.video_source]
        devices.append(self.video_display)
        for device in devices:
            if device.driver not in names:
                names.append(device.driver)
        return names

    @property
    def alert(self) -> MediaDevice:
        return self.audio_alert or self.audio_player

    def app_modules(self) -> list[str]:
        return (["contact"] if self.contacts else []) + ["menu", "ctrl_tcp"]

    def config_text(self, module_dir: Path) -> str:
        width, height = self.video_size
        lines = {
            "poll_method": "epoll",
            "sip_listen": f"{self.listen_host}:{self.sip_port}",
            # "lo" is refused by baresip 1.0; an address works.
            "net_interface": self.listen_host,
            "call_local_timeout": "120",
            "call_max_calls": "1",
            "audio_path": "/usr/share/baresip",
            "audio_player": str(self.audio_player),
            "audio_source": str(self.audio_source),
            "audio_alert": str(self.alert),
            # ausine only runs at 48 kHz stereo; Opus is 48 kHz anyway.
            "ausrc_srate": "48000",
            "auplay_srate": "48000",
            "ausrc_channels": "2",
            "auplay_channels": "2",
            "audio_level": "no",
            "video_source": str(self.video_source),
            "video_display": str(self.video_display),
            "video_size": f"{width}x{height}",
            "video_bitrate": str(self.video_bitrate),
            "video_fps": f"{self.video_fps:.2f}",
            "video_fullscreen": "no",
            "rtcp_mux": "no",
            "jitter_buffer_delay": "5-10",
            "module_path": str(module_dir),
            "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
        }
        if self.ca_file is not None:
            lines["sip_cafile"] = str(self.ca_file)
        if self.record_dir is not None:
            lines["snd_path"] = str(self.record_dir)
        lines.update(self.extra)
        out = ["# baresip configuration written by pvp.kiosk; edits are overwritten"]
        out += [f"{key}\t{value}" for key, value in lines.items()]
        out += [f"module\t{name}.so" for name in self.modules()]
        out += ["module_tmp\tuuid.so", "module_tmp\taccount.so"]
        out += [f"module_app\t{name}.so" for name in self.app_modules()]
        return "\n".join(out) + "\n"


def find_module_dir(candidates: Sequence[Path] = MODULE_DIRS) -> Path:
    """The directory of baresip's modules (Debian: /usr/lib/baresip/modules)."""
    for directory in candidates:
        if (directory / "ctrl_tcp.so").is_file():
            return directory
    raise BaresipModuleMissing(
        "no baresip module directory with ctrl_tcp.so; install the Debian package baresip-core"
    )


def find_binary() -> str | None:
    return shutil.which("baresip")


def write_config_dir(config: BaresipConfig, directory: Path) -> Path:
    """Write ``config``, ``accounts`` and ``contacts`` into ``directory`` (private: it holds
    the SIP password) and return it. Fails before writing if a module is not installed."""
    module_dir = config.module_dir or find_module_dir()
    wanted = config.modules() + config.app_modules() + ["uuid", "account"]
    missing = [name for name in wanted if not (module_dir / f"{name}.so").is_file()]
    if missing:
        raise BaresipModuleMissing(
            f"baresip modules not installed in {module_dir}: {', '.join(missing)} "
            "(sdl/x11 come with the Debian package baresip-x11)"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if config.record_dir is not None:
        config.record_dir.mkdir(parents=True, exist_ok=True)
    _write_private(directory / "config", config.config_text(module_dir))
    _write_private(directory / "accounts", config.account.account_line() + "\n")
    contacts = "".join(f'"{c.name}" <{c.uri}>\n' for c in config.contacts)
    _write_private(directory / "contacts", contacts)
    return directory


def _write_private(path: Path, text: str) -> None:
    # Written then renamed, so a baresip restarting meanwhile never reads half a file.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
