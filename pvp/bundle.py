"""A kiosk's bundle: everything its agent needs, written once when the kiosk is installed
(its schema, which the kiosk reads it through, is :mod:`pvp.wire.bundle`).

Issuing a bundle rotates the kiosk's SIP secret (the plain secret exists only in the bundle),
so a lost bundle is revoked by issuing a new one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pvp.config import Settings
from pvp.freeswitch.certs import kiosk_ca
from pvp.model import Kiosk, Service
from pvp.provisioning import rotate_secret
from pvp.wire import bundle as wire_bundle
from pvp.wire.bundle import BUNDLE_FILE
from pvp.wire.messages import kiosk_key

CA_FILE = "ca.pem"  # the CA the kiosk checks the switch's certificate against
# The kiosk's row of hardware buttons sends F1, F2, ... left to right (a USB keypad).
DEFAULT_KEYS = [f"KEY_F{n}" for n in range(1, 13)]
# The kiosk page's audio devices, by (part of) the label Chromium gives them; "" is the
# system's default. The loudspeaker and room microphone are the defaults; the USB handset is
# the device whose label says "handset" (docs/kiosk-pc.md names it so in PulseAudio/PipeWire),
# so a new handset model needs no new bundle.
SPEAKER_AUDIO = {"input": "", "output": ""}
HANDSET_AUDIO = {"input": "handset", "output": "handset"}


def site_agent_phone(kiosk: Kiosk, settings: Settings) -> str:
    """The number the kiosk screen gives for help: its site's agent, else the support line.
    In the bundle and, so that a change needs no new bundle, in every availability answer."""
    return kiosk.site.agent_phone or settings.support_phone


def bundle_contents(
    session: Session, settings: Settings, kiosk_id: str, secret: str
) -> dict[str, Any]:
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise LookupError(f"no kiosk {kiosk_id!r}")
    names = {s.code: s.name for s in session.query(Service)}
    return {
        "kiosk": kiosk.id,
        "site": kiosk.site_id,
        "commune": kiosk.site.commune,
        "timezone": settings.timezone,  # the kiosk screen speaks of times in it
        "sip": {
            "domain": settings.sip_domain,
            "user": kiosk.id,
            "password": secret,
            "registrar_host": settings.sip_host,
            "registrar_port": settings.sip_tls_port,
            "transport": "tls",  # the agent's messaging registration
            "wss_port": settings.sip_wss_port,  # the page's calls: WebRTC, DTLS-SRTP
        },
        "control_plane": {"url": settings.base_url()},
        # The kiosk checks every command's seal with it (pvp/wire/messages.py); it commands this
        # kiosk only, so a key read off one kiosk PC is worth nothing on another.
        "command_key": kiosk_key(settings.secret("kiosk_command_key"), kiosk.id),
        "ca_file": CA_FILE,
        "buttons": [
            {"service": code, "key": DEFAULT_KEYS[i], "label": names.get(code, code.upper())}
            for i, code in enumerate(kiosk.service_codes)
        ],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": site_agent_phone(kiosk, settings),
        "speaker_audio": dict(SPEAKER_AUDIO),
        "handset_audio": dict(HANDSET_AUDIO),
    }


def write_bundle(session: Session, settings: Settings, kiosk_id: str, out: Path) -> Path:
    """Rotate the kiosk's secret and write its bundle to ``out`` (created, or replaced whole)."""
    if session.get(Kiosk, kiosk_id) is None:
        raise LookupError(f"no kiosk {kiosk_id!r}")
    ca = kiosk_ca(settings)  # before the secret changes: a refusal leaves everything as it was
    secret = rotate_secret(session, kiosk_id, settings.sip_domain)
    contents = bundle_contents(session, settings, kiosk_id, secret)
    wire_bundle.check(contents)  # what the kiosk will read, refused here rather than there
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and swap it in, so a failure never leaves half a bundle.
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    try:
        os.chmod(staging, 0o700)
        path = staging / BUNDLE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(contents, fh, ensure_ascii=False, indent=2)
        shutil.copyfile(ca, staging / CA_FILE)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / BUNDLE_FILE
