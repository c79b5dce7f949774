"""Live tests need a FreeSWITCH binary; without one they skip, saying where it was looked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._minimal_fs import MinimalSwitch, find_binary

NO_BINARY = (
    "no FreeSWITCH binary: set PVP_FREESWITCH_BIN, put freeswitch on PATH, "
    "or install it as /opt/freeswitch/bin/freeswitch"
)


@pytest.fixture
def freeswitch(tmp_path: Path) -> Iterator[MinimalSwitch]:
    binary = find_binary()
    if binary is None:
        pytest.skip(NO_BINARY)
    switch = MinimalSwitch(binary, tmp_path / "freeswitch")
    switch.start()
    yield switch
    switch.stop()
