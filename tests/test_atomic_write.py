"""The one atomic write (pvp.common.fsutil): whole file or none, with the mode asked for."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pvp.common.fsutil import write_atomically


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_a_file_is_replaced_whole_with_its_mode_and_no_temporary_is_left(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "freeswitch.xml"
    path.write_text("old")
    write_atomically(path, b"new", mode)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["freeswitch.xml"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "availability.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomically(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["availability.json"]
