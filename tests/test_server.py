"""``pvp serve``'s choice to start FreeSWITCH or not (the live run: tests/live/test_serve.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pvp import server
from pvp.clock import ShiftedClock
from pvp.config import Settings
from pvp.db import Database

CLOCK = ShiftedClock(datetime(2006, 11, 24, 9, 0, tzinfo=UTC))


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something already listens on (another FreeSWITCH's event socket)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


def test_off_never_starts_freeswitch(settings: Settings, db: Database) -> None:
    off = settings.model_copy(update={"run_freeswitch": "off"})
    assert server.start_freeswitch(off, db, CLOCK) is None
    assert not (settings.data_dir / "freeswitch").exists()


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_without_a_binary_auto_runs_without_it_and_on_refuses(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(server, "find_binary", lambda _settings: None)  # a machine without it
    wanted = settings.model_copy(update={"run_freeswitch": mode})
    if mode == "auto":
        assert server.start_freeswitch(wanted, db, CLOCK) is None
    else:
        with pytest.raises(server.FreeSwitchUnavailable, match="FreeSWITCH not found"):
            server.start_freeswitch(wanted, db, CLOCK)


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_a_switch_already_on_the_event_socket_is_left_alone(
    settings: Settings, db: Database, listening: int, mode: str, tmp_path: Path
) -> None:
    fake = tmp_path / "freeswitch"
    fake.write_text("#!/bin/sh\nexit 1\n")  # never run: the port check comes first
    wanted = settings.model_copy(
        update={"run_freeswitch": mode, "esl_port": listening, "freeswitch_bin": str(fake)}
    )
    if mode == "auto":
        assert server.start_freeswitch(wanted, db, CLOCK) is None
    else:
        with pytest.raises(server.FreeSwitchUnavailable, match="already answers"):
            server.start_freeswitch(wanted, db, CLOCK)
