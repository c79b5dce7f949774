"""The proof of issue 13: Kamailio + two FreeSWITCH + PostgreSQL + two control planes.

The first control plane is a real ``pvp serve`` process (the dispatcher leader, so that it
can be killed), the second runs in this process as a standby under the same leader lease;
both hold an event socket to each switch and both are in each switch's xml_curl bindings.
Kiosks and counsellors register through Kamailio. Kiosks whose calls park on either switch
reach a counsellor; a kiosk's answers to document commands are recorded by the leader
whichever switch Kamailio handed them to; a stopped switch sends new presses to the other;
the leader killed (SIGKILL) while two citizens wait, the standby takes over and serves them
in their order.

Skips, saying why, where Kamailio, FreeSWITCH, baresip or PostgreSQL is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from pvp.deploy.leader import Leadership
from pvp.documents import switch as documents_switch
from pvp.documents.service import DocumentService
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.eslframe import Event
from pvp.model import CallRecord
from pvp.wire.messages import ANSWER_TYPE, Answer, Status, encode_answer, unseal
from testkit.calls import (
    answer,
    ended_record,
    eventually,
    hang_up,
    press,
    rings,
    waiting_calls,
)
from testkit.documents import COUNSELLOR, start_call, text_pdf
from testkit.live_switch import Switch
from testkit.pool import Pool, behind_kamailio, fresh_database, skip_without_kamailio
from testkit.ports import free_port
from testkit.serve import ServeProcess
from testkit.sip_inbox_udp import SipInbox

from .test_control_plane_pool import _holders, _queued
from .test_dispatch import C1, PERMANENCE, talking
from .test_dispatcher_leader import lead, served_by_the_new_leader

pytestmark = pytest.mark.live

C2 = "msa-43-c2"
DOCUMENT_KIOSK = "kiosk-cunlhat-1"  # not a baresip here: Kamailio forks to every contact


@pytest.fixture
def nation(
    make_switch: Callable[..., Switch],
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[Pool, int]]:
    """The pool, its in-process control plane not dispatching yet, and the port reserved for
    ``pvp serve`` (the first xml_curl binding of both switches)."""
    skip_without_kamailio()
    monkeypatch.setenv("PVP_DATABASE_URL", fresh_database(postgres_url))
    sw = make_switch(None)
    serve_port = free_port()
    urls = f"http://127.0.0.1:{serve_port},http://127.0.0.1:{sw.settings.http_port}"
    sw.settings = sw.settings.model_copy(update={"control_plane_urls": urls})
    with behind_kamailio(sw, tmp_path, dispatch=False) as pool:
        yield pool, serve_port


def _open_call(sw: Switch, kiosk: str) -> str | None:
    """The kiosk's call in progress, as the leader recorded it."""
    with sw.db.session() as session:
        call = session.scalars(
            select(CallRecord.id).where(CallRecord.kiosk_id == kiosk, CallRecord.ended_at.is_(None))
        ).first()
        return call


def _pressed(sw: Switch, kiosk: str) -> str:
    """The kiosk's call in progress, once the leader recorded it."""
    assert eventually(partial(_open_call, sw, kiosk)), f"no call of {kiosk} recorded"
    call = _open_call(sw, kiosk)
    assert call is not None
    return call


def _answered(sw: Switch, call: str) -> bool:
    with sw.db.session() as session:
        found = session.get(CallRecord, call)
        return found is not None and found.answered_at is not None


class MessagesSeen:
    """Which switch (1 or 2) each SIP MESSAGE to the control plane crossed, by its body."""

    def __init__(self, pool: Pool) -> None:
        self.seen: list[tuple[int, str]] = []
        self.clients: list[ESLClient] = []
        for number, s in enumerate((pool.sw.settings, pool.second_settings), start=1):
            client = ESLClient(
                "127.0.0.1", s.esl_port, s.secret("esl_password"), events=("MESSAGE",)
            )
            client.on("MESSAGE", partial(self._seen, number))
            client.start()
            self.clients.append(client)
        assert all(c.wait_connected(10) for c in self.clients)

    def _seen(self, number: int, event: Event) -> None:
        self.seen.append((number, event.body))

    def switch_of(self, body: str) -> int | None:
        return next((n for n, seen in self.seen if seen == body), None)

    def stop(self) -> None:
        for client in self.clients:
            client.stop()


def _transfer_done(documents: DocumentService, call: str) -> bool:
    return bool(documents.call_transfers(COUNSELLOR, call)[0]["status"] == "done")


def _answers_recorded_from_both_switches(pool: Pool, documents: DocumentService) -> list[int]:
    """Display commands to a kiosk registered through Kamailio; its answers, each a new SIP
    transaction Kamailio hashes to a switch, until both switches carried one. Each is
    recorded (by the leader: the standby's ``documents`` only sends). The switches used."""
    sw = pool.sw
    password = sw.passwords[DOCUMENT_KIOSK]
    domain = sw.settings.sip_domain
    inbox = SipInbox(DOCUMENT_KIOSK, password, domain, pool.kamailio_address)
    watch = MessagesSeen(pool)
    used: list[int] = []
    try:
        inbox.register()
        for attempt in range(12):
            call = start_call(sw.db, DOCUMENT_KIOSK, COUNSELLOR, None, f"doc-{attempt}")
            sent = documents.send_document(
                COUNSELLOR, call, "display", text_pdf("Vos droits"), "Droits"
            )
            message = inbox.wait_message(timeout=10)
            key = documents.transport.sealer.key(DOCUMENT_KIOSK)  # type: ignore[union-attr]
            command = unseal(message.body, key, time.time())["id"]
            assert command == sent["command"]
            body = encode_answer(Answer(command, Status.DONE, details={"pages": 1}))
            assert inbox.send_message("pvp", body, ANSWER_TYPE) < 300
            assert eventually(partial(watch.switch_of, body), 5)
            used.append(watch.switch_of(body) or 0)
            done = partial(_transfer_done, documents, call)
            assert eventually(done, 10), documents.call_transfers(COUNSELLOR, call)
            if set(used) == {1, 2}:
                break
    finally:
        watch.stop()
        inbox.close()
    return used


def test_a_nation_in_small_two_switches_two_control_planes_one_leader_killed(
    nation: tuple[Pool, int], tmp_path: Path
) -> None:
    pool, serve_port = nation
    sw = pool.sw
    standby = sw.control_plane
    first = ServeProcess(
        standby.settings.model_copy(
            update={"fake_now": PERMANENCE, "esl_password": sw.settings.secret("esl_password")}
        ),
        serve_port,
        tmp_path / "first.log",
    )
    leading: Leadership | None = None
    documents_esl = None
    try:
        assert eventually(first.answers, timeout=30), first.log.read_text()
        assert eventually(
            lambda: any(f"pid {first.proc.pid}" in h.application for h in _holders(sw)), 15
        ), first.log.read_text()
        started = time.monotonic()
        leading = lead(standby, check_seconds=1.0)
        # The standby's documents, wired as `pvp serve` wires them: they send, only the
        # leader's record what comes back.
        documents: DocumentService = standby.app.extensions["pvp.documents"]
        documents_esl, _ = documents_switch.start(
            standby.settings, documents, lambda: standby.services is not None
        )
        assert documents_esl.wait_connected(10)
        sw.travel_to(PERMANENCE)

        # Kiosks on both switches press and reach a counsellor registered through Kamailio.
        c1, c2 = pool.device(C1, 880, tmp_path), pool.device(C2, 660, tmp_path)
        standby.set_status(C1, "available")  # the leader reads the consoles' status
        assert eventually(lambda: first.logged(f"counsellor {C1} SIP: False -> True"), 15)
        one, two = (pool.device(k, 440, tmp_path) for k in ("kiosk-vorey-1", "kiosk-vorey-2"))
        assert press(one, "msa")["type"] == "CALL_ESTABLISHED"
        rings(c1, "kiosk-vorey-1")
        answer(c1)
        call_one = _pressed(sw, "kiosk-vorey-1")
        assert eventually(lambda: _answered(sw, call_one))
        standby.set_status(C2, "available")
        landed = {pool.switch_of(call_one)}
        for _ in range(8):  # Kamailio hashes each Call-ID: again until the other switch
            assert press(two, "msa")["type"] == "CALL_ESTABLISHED"
            call_two = _pressed(sw, "kiosk-vorey-2")
            if pool.switch_of(call_two) not in landed:
                break
            hang_up(two)
            assert eventually(lambda: _open_call(sw, "kiosk-vorey-2") is None)
        landed.add(pool.switch_of(call_two))
        assert landed == {1, 2}
        rings(c2, "kiosk-vorey-2")
        answer(c2)
        assert eventually(lambda: _answered(sw, call_two))
        hang_up(one)
        hang_up(two)
        for call in (call_one, call_two):
            assert ended_record(sw, call).outcome == "served"
        calls_done = time.monotonic()

        # The kiosk's answers to document commands, recorded whatever switch carried them.
        assert set(_answers_recorded_from_both_switches(pool, documents)) == {1, 2}
        documents_done = time.monotonic()

        # The second switch stops: Kamailio takes it out, new presses park on the first.
        standby.set_status(C1, "paused")
        standby.set_status(C2, "paused")
        pool.second.stop()
        uri = f"sip:127.0.0.1:{pool.second_settings.sip_port}"
        assert eventually(lambda: pool.kamailio.destinations().get(uri) == "IP", 15)
        sw.travel_to(PERMANENCE)
        assert press(one, "msa")["type"] == "CALL_ESTABLISHED"
        assert eventually(lambda: _queued(sw) == ["kiosk-vorey-1"], 10), _queued(sw)
        assert press(two, "msa")["type"] == "CALL_ESTABLISHED"
        assert eventually(lambda: _queued(sw) == ["kiosk-vorey-1", "kiosk-vorey-2"], 10)
        waiting_one, waiting_two = (_pressed(sw, k) for k in ("kiosk-vorey-1", "kiosk-vorey-2"))
        assert {pool.switch_of(waiting_one), pool.switch_of(waiting_two)} == {1}

        # The leader is killed while both wait: the standby leads and serves them in order.
        assert standby.services is None
        first.proc.kill()
        killed_at = time.monotonic()
        first.proc.wait()
        assert eventually(lambda: standby.services is not None, timeout=20)
        takeover = time.monotonic() - killed_at
        assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-1", "kiosk-vorey-2"])
        served_by_the_new_leader(sw, c1, one, waiting_one)
        standby.set_status(C2, "available")
        rings(c2, "kiosk-vorey-2")
        answer(c2)
        assert eventually(lambda: talking(sw, "kiosk-vorey-2"))
        hang_up(two)
        done = ended_record(sw, waiting_two)
        assert done.outcome == "served" and done.counsellor_id == C2, done.reason
        print(
            f"calls on both switches {calls_done - started:.1f} s, document answers "
            f"{documents_done - calls_done:.1f} s, takeover {takeover:.2f} s"
        )
        assert takeover < 8
    finally:
        if documents_esl is not None:
            documents_esl.stop()
        first.stop()
        if leading is not None:
            leading.stop()
        standby.stop()
