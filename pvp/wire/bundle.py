"""A kiosk's bundle (``kiosk.json``): everything its agent needs, written by the control plane
(``pvp provision bundle``, pvp/bundle.py) and read by the kiosk agent, through this one schema.

Read once, when the agent starts: a bundle that does not fit is refused with the field named
(:class:`BundleError`), rather than failing later on the first lookup of a missing key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pvp.common.errors import PvpError

BUNDLE_FILE = "kiosk.json"
DEFAULT_SCREEN_PORT = 8480  # the kiosk screen's port on 127.0.0.1


class BundleError(PvpError, ValueError, code="bad_bundle"):
    """A bundle that cannot be read or does not fit the schema."""


class _Part(BaseModel):
    # Unknown keys are kept out of the way, not refused: a newer control plane may add some.
    model_config = ConfigDict(frozen=True, extra="ignore")


class SipAccount(_Part):
    domain: str
    user: str
    password: str
    registrar_host: str  # the switch the messaging endpoint registers with (TLS)
    registrar_port: int = 5061
    transport: str = "tls"
    wss_port: int = 7443  # the page's calls: WebRTC over secure WebSocket
    wss_url: str | None = None  # instead of wss://<server_name>:<wss_port>
    server_name: str | None = None  # the name on the switch's certificate, else registrar_host

    @property
    def checked_name(self) -> str:
        return self.server_name or self.registrar_host

    @property
    def page_wss_url(self) -> str:
        return self.wss_url or f"wss://{self.checked_name}:{self.wss_port}"


class ControlPlane(_Part):
    url: str


class Button(_Part):
    service: str
    key: str  # an evdev key name, e.g. KEY_F1
    label: str = ""


class AgentOptions(_Part):
    screen_port: int = DEFAULT_SCREEN_PORT


class Bundle(_Part):
    kiosk: str
    site: str = ""
    commune: str = ""
    sip: SipAccount
    control_plane: ControlPlane
    # The key the control plane seals this kiosk's commands with (hex); without one, every
    # command and queue news is refused.
    command_key: str | None = None
    ca_file: str | None = None  # beside kiosk.json: the CA the switch and control plane use
    buttons: tuple[Button, ...] = Field(min_length=1)
    hangup_key: str = "KEY_ESC"
    hook_key: str = "KEY_PHONE"
    hook_pressed_means_lifted: bool = True
    site_agent_phone: str = ""
    # Labels of the page's audio devices; checked by pvp.kiosk.phone.AudioDevices.
    speaker_audio: Any = None
    handset_audio: Any = None
    agent: AgentOptions = AgentOptions()
    input_devices: tuple[str, ...] = ()
    # The deployment's zone (its settings'), which the kiosk screen speaks of times in; a bundle
    # older than this field has none: the PC's own zone is used.
    timezone: str | None = None
    printer_queue: str = "kiosk"
    scanner_device: str | None = None

    def ca_path(self, bundle_dir: Path) -> Path | None:
        return bundle_dir / self.ca_file if self.ca_file else None


def check(contents: Any) -> Bundle:
    """``contents`` as a bundle; BundleError naming each field that does not fit."""
    try:
        return Bundle.model_validate(contents)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'bundle'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BundleError(problems) from None


def read(bundle_dir: Path) -> Bundle:
    """The bundle in ``bundle_dir``; BundleError if it is missing, not JSON or does not fit."""
    path = bundle_dir / BUNDLE_FILE
    try:
        contents = json.loads(path.read_text())
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BundleError(f"{path}: not JSON ({exc})") from None
    return check(contents)
