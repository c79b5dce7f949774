"""The kiosk agent is a program of its own: importing it loads none of the control plane."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Third-party packages only the control plane installs (setup.cfg's `control` extra).
CONTROL_PLANE_PACKAGES = (
    "sqlalchemy",
    "alembic",
    "holidays",
    "pydantic_settings",
    "flask_login",
    "flask_wtf",
    "wtforms",
    "icalendar",
    "pyhanko",
    "reportlab",
    "email_validator",
    "yaml",
)
# PVP's own packages a kiosk may load; anything else under pvp is the control plane.
KIOSK_SIDE = ("pvp", "pvp.wire", "pvp.common", "pvp.kiosk")


def loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter holds after importing ``module``."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("module", ["pvp.kiosk.agent", "pvp.kiosk.cli"])
def test_the_kiosk_program_loads_no_control_plane_package(module: str) -> None:
    loaded = loaded_by(module)
    tops = {name.split(".")[0] for name in loaded}
    assert sorted(tops.intersection(CONTROL_PLANE_PACKAGES)) == []
    ours = [m for m in loaded if m == "pvp" or m.startswith("pvp.")]
    foreign = [m for m in ours if not any(m == k or m.startswith(k + ".") for k in KIOSK_SIDE)]
    assert foreign == []
