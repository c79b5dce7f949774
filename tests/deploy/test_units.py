"""The rendered systemd units: systemd's own checker accepts them; each restarts alone."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvp.cli import main
from pvp.config import Settings
from pvp.deploy.units import CONTROL, FREESWITCH, KIOSK, KIOSK_BROWSER, Layout, render_units

UNITS = [FREESWITCH, CONTROL, KIOSK, KIOSK_BROWSER]


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def _verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found (Debian's systemd package)")
    # --man=no: the units' man pages are not installed; --recursive-errors=no: only ours.
    return subprocess.run(
        [analyze, "verify", "--man=no", "--recursive-errors=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _layout(tmp_path: Path) -> Layout:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for command in ("pvp", "pvp-kiosk"):  # the control plane's and the kiosk PC's
        (bin_dir / command).write_text("#!/bin/sh\n")
        (bin_dir / command).chmod(0o755)
    return Layout(bin_dir=bin_dir, chromium=Path(shutil.which("sh") or "/bin/sh"))


def test_given_a_site_when_rendering_then_systemd_verify_accepts_the_four_units(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", freeswitch_bin="/bin/true")
    paths = render_units(settings, _layout(tmp_path), tmp_path / "units")
    assert [p.name for p in paths] == UNITS
    result = _verify(paths)
    assert result.returncode == 0, result.stderr


def test_systemd_verify_does_catch_a_unit_whose_program_is_missing(tmp_path: Path) -> None:
    """The check above can fail: a control plane unit pointing at no `pvp` is refused."""
    settings = Settings(data_dir=tmp_path / "data", freeswitch_bin="/bin/true")
    layout = Layout(bin_dir=tmp_path / "nowhere")
    paths = render_units(settings, layout, tmp_path / "units")
    result = _verify([p for p in paths if p.name == CONTROL])
    assert result.returncode != 0
    assert "nowhere/pvp" in result.stderr


def test_each_service_restarts_alone_and_the_control_plane_leaves_the_switch_to_systemd(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", freeswitch_conf_dir=str(tmp_path / "conf"))
    paths = {p.name: p for p in render_units(settings, _layout(tmp_path), tmp_path / "u")}
    for name, path in paths.items():
        unit = _parse(path)
        for key in ("BindsTo", "PartOf", "Requires", "Requisite"):
            assert key not in unit["Unit"], f"{name}: {key} would stop it with another"
        assert unit["Service"]["Restart"] in ("always", "on-failure")
    control = _parse(paths[CONTROL])["Service"]["ExecStart"]
    assert control.endswith("pvp serve --freeswitch off")
    switch = _parse(paths[FREESWITCH])["Service"]["ExecStart"]
    assert f"-conf {tmp_path / 'conf'}" in switch and " -nf -nc " in switch
    browser = _parse(paths[KIOSK_BROWSER])
    assert "--kiosk" in browser["Service"]["ExecStart"]
    assert KIOSK in browser["Unit"]["After"]


def test_cli_renders_the_units_into_the_directory_given(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["deploy", "render", "--out", str(tmp_path / "units"), "--user", "pvp-site"],
        env={"PVP_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == sorted(UNITS)
    assert "User=pvp-site" in (tmp_path / "units" / CONTROL).read_text()
