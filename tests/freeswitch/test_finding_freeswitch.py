"""Where PVP and the live suite look for FreeSWITCH: PVP_FREESWITCH_BIN, PATH, /opt/freeswitch."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvp.config import Settings
from pvp.freeswitch import process


def fake_binary(path: Path) -> str:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_the_environment_variable_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = fake_binary(tmp_path / "freeswitch")
    monkeypatch.setenv("PVP_FREESWITCH_BIN", chosen)
    assert str(process.find_binary(Settings())) == chosen


def test_nothing_anywhere_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVP_FREESWITCH_BIN", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(process, "DEFAULT_BINARY", tmp_path / "also-missing")
    assert process.find_binary(Settings()) is None
