"""SIP registrations reach the dispatcher: a real baresip registers and unregisters a counsellor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp.db import Database
from pvp.model import CounsellorState
from testkit.minimal_switch import MinimalSwitch
from testkit.ports import free_port
from testkit.ua import Account, UserAgent

from .test_esl import C1, Rig, eventually

pytestmark = pytest.mark.live

PASSWORD = "s3cret-c1"


@pytest.fixture
def sip_switch(freeswitch_bin: Path, tmp_path: Path) -> Iterator[MinimalSwitch]:
    switch = MinimalSwitch(
        freeswitch_bin, tmp_path / "freeswitch", sip_port=free_port(), users={C1: PASSWORD}
    )
    switch.start()
    yield switch
    switch.stop()


def registered_in_db(db: Database) -> bool:
    with db.sessions() as session:
        state = session.get(CounsellorState, C1)
        return bool(state and state.registered)


def test_given_a_softphone_when_it_registers_and_leaves_then_the_dispatcher_follows(
    sip_switch: MinimalSwitch, db: Database, tmp_path: Path
) -> None:
    rig = Rig(sip_switch, db, {})
    worker = rig.start()
    assert eventually(lambda: "RUNNING" in worker.esl.api("sofia status"))
    account = Account(C1, PASSWORD, "pvp.test", "127.0.0.1", sip_switch.sip_port or 0, "udp", False)
    phone = UserAgent(account, tmp_path / "c1")
    try:
        assert eventually(lambda: worker.policy.counsellors[C1].registered, 15)
        assert eventually(lambda: registered_in_db(db))
        # A restarted control plane learns it from FreeSWITCH's table, with no new event
        # (once the table has it: FreeSWITCH writes it through a queue, see docs/esl.md).
        assert eventually(lambda: C1 in worker.esl.api("show registrations as json"))
        rig.stop()
        worker = rig.start()
        assert worker.policy.counsellors[C1].registered
        assert worker.tracker.registered_users() == {C1}
    finally:
        phone.close()  # SIGTERM: baresip unregisters before it exits
    assert eventually(lambda: not worker.policy.counsellors[C1].registered)
    assert eventually(lambda: not registered_in_db(db))
    rig.stop()
