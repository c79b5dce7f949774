"""The counsellor names a call by what the console shows: the kiosk ("borne kiosk-vorey-1")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.wire.messages import decode_command
from testkit.documents import COUNSELLOR, KIOSK, OTHER_KIOSK, end_call, start_call
from testkit.fake_esl import FakeSwitch


@pytest.fixture
def switch(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSwitch]:
    """The Event Socket's wire protocol; `chat` answers "Sent" as FreeSWITCH does."""
    fake = FakeSwitch(password="pw")
    fake.api_answers["chat "] = "Sent\n"
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_ESL_PORT", str(fake.port))
    monkeypatch.setenv("PVP_ESL_PASSWORD", "pw")
    yield fake
    fake.close()


def chats(switch: FakeSwitch) -> list[tuple[str, str]]:
    """(kiosk, command's call) of each `chat` the CLI sent."""
    out = []
    for line in switch.commands:
        if line.startswith("api chat "):
            _proto, _sender, to, body, _type = line[len("api chat ") :].split("|")
            out.append((to.split("@")[0], decode_command(body).call or ""))
    return out


@pytest.mark.parametrize("named", [["--call", KIOSK], ["--call", "call-0001"], []])
def test_a_page_turn_names_the_call_by_kiosk_by_id_or_not_at_all(
    db: Database, switch: FakeSwitch, named: list[str]
) -> None:
    start_call(db, call_id="call-0001")
    done = CliRunner().invoke(
        main, ["doc", "page", "--counsellor", COUNSELLOR, *named, "2"], catch_exceptions=False
    )
    assert done.exit_code == 0, done.output
    assert chats(switch) == [(KIOSK, "call-0001")]


def test_a_kiosk_the_counsellor_is_not_talking_to_is_refused_before_the_switch(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_ESL_PORT", "9")  # nothing listens: the refusal comes first
    monkeypatch.setenv("PVP_ESL_PASSWORD", "x")
    call = start_call(db, call_id="call-0001")
    runner = CliRunner()
    wrong = runner.invoke(main, ["doc", "scan", "--counsellor", COUNSELLOR, "--call", OTHER_KIOSK])
    assert wrong.exit_code == 2
    assert f"pas d'appel en cours avec la borne {OTHER_KIOSK}" in wrong.output
    end_call(db, call)
    ended = runner.invoke(main, ["doc", "scan", "--counsellor", COUNSELLOR])
    assert ended.exit_code == 2 and "pas d'appel en cours" in ended.output
