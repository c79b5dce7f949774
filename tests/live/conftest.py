"""Fixtures of the live tests: the switches of testkit/live_switch.py, skipped (saying why)
where FreeSWITCH or baresip is missing, stopped at the end."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.process import WHERE, find_binary
from testkit.esl import Esl
from testkit.live_switch import Switch, started
from testkit.minimal_switch import MinimalSwitch


@pytest.fixture(scope="session")
def freeswitch_bin() -> Path:
    binary = find_binary(Settings(freeswitch_bin=os.environ.get("PVP_FREESWITCH_BIN", "")))
    if binary is None:
        pytest.skip(f"FreeSWITCH not found: {WHERE}")
    if shutil.which("baresip") is None:
        pytest.skip("baresip not found: apt-get install baresip-core (see packages.debian)")
    return binary


@pytest.fixture(scope="session")
def switch(freeswitch_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Switch]:
    sw = started(freeswitch_bin, tmp_path_factory.mktemp("switch"), None)
    yield sw
    sw.stop()


@pytest.fixture
def fresh(switch: Switch) -> Iterator[Switch]:
    """The shared switch, with nothing left over from the previous test (see Switch.reset)."""
    yield switch
    switch.reset()


@pytest.fixture
def make_switch(
    freeswitch_bin: Path, tmp_path: Path
) -> Iterator[Callable[[Callable[[Database], None] | None], Switch]]:
    """A switch of the test's own (e.g. with a plan edited before rendering)."""
    made: list[Switch] = []

    def factory(prepare: Callable[[Database], None] | None = None) -> Switch:
        sw = started(freeswitch_bin, tmp_path / f"switch{len(made)}", prepare)
        made.append(sw)
        return sw

    yield factory
    for sw in made:
        sw.stop()


@pytest.fixture(scope="session")
def shared_freeswitch(
    freeswitch_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MinimalSwitch]:
    switch = MinimalSwitch(str(freeswitch_bin), tmp_path_factory.mktemp("freeswitch"))
    switch.start()
    yield switch
    switch.stop()


@pytest.fixture
def freeswitch(shared_freeswitch: MinimalSwitch) -> Iterator[MinimalSwitch]:
    """A bare FreeSWITCH (event socket, loopback) for the ESL and dispatcher tests; one for
    the session, left with no channel after each test (started again if a test stopped it)."""
    yield shared_freeswitch
    if shared_freeswitch.process is None:
        shared_freeswitch.start()
    esl = Esl("127.0.0.1", shared_freeswitch.esl_port, shared_freeswitch.password)
    try:
        esl.api("hupall NORMAL_CLEARING")
        deadline = time.monotonic() + 5
        while esl.channels() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        esl.close()
