"""The kiosk browser's set-up: trust the deployment's CA, allow camera and microphone.

Chromium on Linux checks certificates against the NSS database in ``$HOME/.pki/nssdb`` of
the user it runs as: the switch's WSS certificate is accepted because the bundle's CA is
written there (``certutil``, Debian ``libnss3-tools``), never because checking is turned off.
Camera and microphone are granted to the kiosk page's origin only, by Chromium's managed
policies (JSON under ``/etc/chromium/policies/managed``). See docs/kiosk-pc.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pvp.common.errors import PvpError

CA_NICKNAME = "PVP deployment CA"
POLICY_FILE = "pvp-kiosk.json"
DEFAULT_POLICIES_DIR = Path("/etc/chromium/policies/managed")


class BrowserSetupError(
    PvpError, RuntimeError, code="browser_unready", summary="navigateur non prêt"
):
    """The kiosk browser cannot be set up (no certutil, unreadable CA, ...)."""


def nss_dir(home: Path) -> Path:
    return home / ".pki" / "nssdb"


def trust_ca(home: Path, ca_file: Path) -> Path:
    """Create (if needed) the NSS database of ``home`` and trust ``ca_file`` for servers."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise BrowserSetupError("certutil not found (Debian package libnss3-tools)")
    if not ca_file.is_file():
        raise BrowserSetupError(f"CA file {ca_file} not found")
    if b"-----BEGIN CERTIFICATE-----" not in ca_file.read_bytes():
        raise BrowserSetupError(f"{ca_file} is not a PEM certificate")
    db = nss_dir(home)
    database = f"sql:{db}"
    if not (db / "cert9.db").exists():
        db.mkdir(parents=True, exist_ok=True, mode=0o700)
        _run([certutil, "-N", "-d", database, "--empty-password"])
    # Replace a CA of the same name (a re-issued bundle), then add: "C,," = trusted to
    # issue server certificates, nothing else.
    subprocess.run([certutil, "-D", "-d", database, "-n", CA_NICKNAME], capture_output=True)
    _run([certutil, "-A", "-d", database, "-n", CA_NICKNAME, "-t", "C,,", "-i", str(ca_file)])
    return db


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BrowserSetupError(f"{' '.join(command[:2])}: {done.stderr.strip() or done.stdout}")


def policies(origin: str) -> dict[str, Any]:
    """Chromium's managed policies for a kiosk whose page is served at ``origin``."""
    return {
        # Camera and microphone without a prompt, for the kiosk page only.
        "VideoCaptureAllowedUrls": [origin],
        "AudioCaptureAllowedUrls": [origin],
        "AutoplayAllowed": True,  # the counsellor's voice plays with no click
        # Nothing else may ask the citizen anything.
        "DefaultNotificationsSetting": 2,
        "DefaultGeolocationSetting": 2,
        "PasswordManagerEnabled": False,
        "TranslateEnabled": False,
        "BrowserSignin": 0,
        "SyncDisabled": True,
        "PromotionalTabsEnabled": False,
        "DeveloperToolsAvailability": 2,
    }


def write_policies(directory: Path, origin: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / POLICY_FILE
    path.write_text(json.dumps(policies(origin), indent=2) + "\n")
    path.chmod(0o644)
    return path


def kiosk_command(url: str, profile: Path) -> list[str]:
    """How the kiosk session starts Chromium on the kiosk page (docs/kiosk-pc.md)."""
    return [
        "chromium",
        "--kiosk",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--noerrdialogs",
        "--disable-session-crashed-bubble",
        "--disable-infobars",
        "--autoplay-policy=no-user-gesture-required",
        "--check-for-update-interval=31536000",
        url,
    ]
