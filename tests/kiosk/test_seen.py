"""A kiosk takes each sealed message once, even across a restart of its agent."""

from __future__ import annotations

from pathlib import Path

from pvp.kiosk.seen import SeenMessages
from pvp.wire.messages import SEAL_WINDOW


def test_a_replayed_command_id_is_refused_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    assert SeenMessages(path).first_time("command:c-1", 1000, 1000.0)
    restarted = SeenMessages(path)
    assert not restarted.first_time("command:c-1", 1000, 1001.0)
    assert restarted.first_time("command:c-2", 1000, 1001.0)


def test_entries_older_than_the_seal_window_are_dropped(tmp_path: Path) -> None:
    seen = SeenMessages(tmp_path / "seen.json")
    seen.first_time("command:old", 1000, 1000.0)
    later = 1000.0 + 2 * SEAL_WINDOW + 1  # the seal of "old" is long invalid by now
    seen.first_time("command:new", int(later), later)
    assert "command:old" not in (tmp_path / "seen.json").read_text()


def test_a_torn_file_does_not_stop_the_kiosk(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    path.write_text('{"command:c-1": 10')
    assert SeenMessages(path).first_time("command:c-1", 1000, 1000.0)
