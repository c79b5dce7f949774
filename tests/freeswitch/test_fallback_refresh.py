"""The static fallback follows the plan: rendered again on each change, and FreeSWITCH told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pvp.clock import ShiftedClock
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.esl import Backoff, ESLClient
from pvp.freeswitch.refresh import FallbackRefresher
from pvp.provisioning import rotate_secret
from testkit.fake_esl import FakeSwitch

TOLD = ["api reloadxml", "api xml_flush_cache"]


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    server = FakeSwitch()
    yield server
    server.close()


@pytest.fixture
def esl(switch: FakeSwitch) -> Iterator[ESLClient]:
    client = ESLClient("127.0.0.1", switch.port, "ClueCon", backoff=Backoff(0.05, 0.2))
    client.start()
    assert client.wait_connected(5)
    yield client
    client.stop()


def told(switch: FakeSwitch) -> list[str]:
    return [c for c in switch.commands if c in TOLD]


def make(
    settings: Settings, db: Database, tmp_path: Path, esl: ESLClient | None
) -> FallbackRefresher:
    clock = ShiftedClock(datetime(2006, 11, 24, 9, 0, tzinfo=UTC))
    return FallbackRefresher(settings, db, tmp_path / "conf", clock, esl=esl)


def test_given_a_plan_when_checked_then_the_fallback_is_written_and_the_switch_told_once(
    settings: Settings, db: Database, tmp_path: Path, switch: FakeSwitch, esl: ESLClient
) -> None:
    refresher = make(settings, db, tmp_path, esl)
    assert refresher.check()
    directory = tmp_path / "conf" / "directory" / "pvp.xml"
    assert "kiosk-vorey-1" in directory.read_text()
    assert (tmp_path / "conf" / "dialplan" / "pvp-kiosks.xml").exists()
    assert directory.stat().st_mode & 0o777 == 0o600
    assert told(switch) == TOLD
    assert refresher.up_to_date()

    assert not refresher.check()  # nothing changed: nothing written, nothing sent
    assert told(switch) == TOLD


def test_given_a_new_secret_when_checked_then_rendered_again_and_caches_flushed(
    settings: Settings, db: Database, tmp_path: Path, switch: FakeSwitch, esl: ESLClient
) -> None:
    refresher = make(settings, db, tmp_path, esl)
    refresher.check()
    directory = tmp_path / "conf" / "directory" / "pvp.xml"
    before = directory.read_text()
    with db.session() as session:
        rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    assert not refresher.up_to_date()
    assert refresher.check()
    assert directory.read_text() != before
    assert told(switch) == TOLD * 2
    assert not list(directory.parent.glob(".*partial"))  # written whole, then renamed


def test_given_a_new_day_when_checked_then_rendered_again(
    settings: Settings, db: Database, tmp_path: Path, esl: ESLClient
) -> None:
    refresher = make(settings, db, tmp_path, esl)
    refresher.check()
    assert isinstance(refresher.clock, ShiftedClock)
    refresher.clock.travel_to(datetime(2006, 11, 25, 9, 0, tzinfo=UTC))
    assert refresher.check()
    assert "2006-11-25" in (tmp_path / "conf" / "dialplan" / "pvp-kiosks.xml").read_text()


def test_given_no_switch_when_checked_then_rendered_and_told_once_it_answers(
    settings: Settings, db: Database, tmp_path: Path, switch: FakeSwitch
) -> None:
    client = ESLClient("127.0.0.1", switch.port, "ClueCon", backoff=Backoff(0.05, 0.2))
    refresher = make(settings, db, tmp_path, client)
    assert refresher.check()  # written, though nobody can be told yet
    assert not refresher.up_to_date() and told(switch) == []
    client.start()
    try:
        assert client.wait_connected(5)
        assert not refresher.check()  # nothing new to write, but FreeSWITCH is told now
        assert told(switch) == TOLD and refresher.up_to_date()
    finally:
        client.stop()
