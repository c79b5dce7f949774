"""systemd units for one PVP machine: FreeSWITCH, the control plane, the kiosk agent, Chromium.

Each service is independent (no ``BindsTo``/``PartOf`` between them): restarting the control
plane leaves FreeSWITCH and its calls alone, restarting the kiosk browser leaves the agent
alone. Ordering (``After``/``Wants``) only says what to start first at boot.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from pvp.common.fsutil import write_atomically
from pvp.config import Settings
from pvp.freeswitch.certs import certs_dir
from pvp.freeswitch.process import DEFAULT_BINARY, RUNTIME_DIRS, FreeSwitch, find_binary

FREESWITCH = "pvp-freeswitch.service"
CONTROL = "pvp-control.service"
KIOSK = "pvp-kiosk.service"
KIOSK_BROWSER = "pvp-kiosk-browser.service"


@dataclass(frozen=True)
class Layout:
    """Where things are on the machine; the defaults are docs/deployment.md's layout."""

    bin_dir: Path  # the venv's bin directory holding `pvp`
    config_file: Path = Path("/etc/pvp/pvp.toml")
    user: str = "pvp"
    kiosk_bundle: Path = Path("/etc/pvp/kiosk")
    kiosk_user: str = "kiosk"
    chromium: Path = Path("/usr/bin/chromium")
    display: str = ":0"


def _quote(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _unit(description: str, after: list[str], service: list[str], wanted_by: str) -> str:
    lines = ["[Unit]", f"Description={description}"]
    if after:
        lines.append(f"After={' '.join(after)}")
        # Wanted, never required: a restart or failure of one does not stop the others.
        wants = [name for name in after if not name.endswith(".target") or "online" in name]
        lines.append(f"Wants={' '.join(wants)}")
    lines += ["", "[Service]", *service, "", "[Install]", f"WantedBy={wanted_by}", ""]
    return "\n".join(lines)


def freeswitch_unit(settings: Settings, layout: Layout) -> str:
    home = settings.data_dir / "freeswitch"
    conf = Path(settings.freeswitch_conf_dir or home / "conf")
    binary = find_binary(settings) or DEFAULT_BINARY
    switch = FreeSwitch(binary, conf, home / "run", certs_dir(settings))
    dirs = [str(home / "run" / name) for name in RUNTIME_DIRS]
    return _unit(
        "PVP FreeSWITCH (SIP registrar and media switch)",
        ["network-online.target"],
        [
            "Type=simple",
            f"User={layout.user}",
            # The control plane renders this tree; the switch must not start without it.
            f"ExecStartPre=/usr/bin/test -f {shlex.quote(str(conf / 'freeswitch.xml'))}",
            f"ExecStartPre=/usr/bin/mkdir -p {_quote(dirs)}",
            f"ExecStart={_quote(switch.command())}",
            "Restart=on-failure",
            "RestartSec=2",
            "LimitNOFILE=100000",
            "TimeoutStopSec=30",
        ],
        "multi-user.target",
    )


def control_unit(settings: Settings, layout: Layout) -> str:
    pvp = layout.bin_dir / "pvp"
    return _unit(
        "PVP control plane (xml_curl, dispatcher, panel, JSON API)",
        ["network-online.target", "postgresql.service", FREESWITCH],
        [
            "Type=simple",
            f"User={layout.user}",
            f"Environment=PVP_CONFIG={shlex.quote(str(layout.config_file))}",
            # FreeSWITCH is its own service: restarting this one keeps every call up.
            f"ExecStart={_quote([str(pvp), 'serve', '--freeswitch', 'off'])}",
            "Restart=always",
            "RestartSec=2",
            "TimeoutStopSec=20",
        ],
        "multi-user.target",
    )


def kiosk_unit(layout: Layout) -> str:
    # pvp-kiosk, not pvp: a kiosk PC installs only pvp[kiosk], without the control plane.
    pvp_kiosk = layout.bin_dir / "pvp-kiosk"
    return _unit(
        "PVP kiosk agent (buttons, handset, printer, scanner, kiosk screen)",
        ["network-online.target", "cups.service"],
        [
            "Type=simple",
            f"User={layout.kiosk_user}",
            f"ExecStart={_quote([str(pvp_kiosk), 'run', '--bundle', str(layout.kiosk_bundle)])}",
            "Restart=always",
            "RestartSec=2",
        ],
        "multi-user.target",
    )


def kiosk_browser_unit(layout: Layout, screen_port: int = 8480) -> str:
    args = [
        str(layout.chromium),
        "--kiosk",
        "--noerrdialogs",
        "--disable-session-crashed-bubble",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        f"http://127.0.0.1:{screen_port}/",
    ]
    return _unit(
        "PVP kiosk screen (Chromium in kiosk mode)",
        ["graphical.target", KIOSK],
        [
            "Type=simple",
            f"User={layout.kiosk_user}",
            f"Environment=DISPLAY={layout.display}",
            f"ExecStart={_quote(args)}",
            "Restart=always",
            "RestartSec=2",
        ],
        "graphical.target",
    )


def render_units(settings: Settings, layout: Layout, out: Path) -> list[Path]:
    """Write the four units into ``out``; the paths written."""
    units = {
        FREESWITCH: freeswitch_unit(settings, layout),
        CONTROL: control_unit(settings, layout),
        KIOSK: kiosk_unit(layout),
        KIOSK_BROWSER: kiosk_browser_unit(layout),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        write_atomically(out / name, text.encode())
        written.append(out / name)
    return written
