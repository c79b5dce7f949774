"""Two control planes over one PostgreSQL, both in FreeSWITCH's xml_curl bindings: the one
that is the first binding and the dispatcher leader is killed (SIGKILL) while a citizen
waits. A new kiosk still registers and presses during the handover (directory and dialplan
from the other), and the new leader serves the waiting citizen in their place, then the
newcomer it adopted from the switch's parked channels.

The first control plane is a real ``pvp serve`` process (so that it can be killed), the second
runs in this process as the harness's other tests run it, under the same leader lease. Also
measured: a directory lookup with the first control plane dead (refused: next binding at once)
and hung (SIGSTOP: the binding's timeout), and the takeover. Skips where FreeSWITCH, baresip or
PostgreSQL's server binaries are absent.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import flask
import pytest
from sqlalchemy import select

from pvp.common.pdf import pdf_to_fax_tiff
from pvp.config import Settings
from pvp.db import Database
from pvp.deploy.doctor import check_xml_curl
from pvp.deploy.leader import Leadership, lease_holders
from pvp.deploy.pool import check_leader
from pvp.documents import switch
from pvp.documents.service import DocumentService
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.render import render
from pvp.model import DocumentTransfer, QueueEntry
from pvp.provisioning import rotate_secret
from testkit.calls import (
    call_of,
    eventually,
    hang_up,
    press,
    registered,
    waiting_calls,
)
from testkit.documents import COUNSELLOR, fax_received, text_pdf
from testkit.live_switch import PARIS, ControlPlane, Switch
from testkit.minimal_switch import MinimalSwitch
from testkit.ports import free_port
from testkit.serve import ServeProcess

from .test_dispatch import C1, PERMANENCE, kiosk
from .test_dispatcher_leader import lead, served_by_the_new_leader

pytestmark = pytest.mark.live


class Asked:
    """The xml_curl requests one control plane answered: (section, user)."""

    def __init__(self, app: flask.Flask) -> None:
        self.seen: list[tuple[str, str]] = []
        flask.request_started.connect(self._started, app, weak=False)

    def _started(self, sender: Any, **extra: Any) -> None:
        path = flask.request.path
        if path.startswith("/freeswitch/"):
            form = flask.request.form
            who = form.get("user") or form.get("Caller-Username") or ""
            self.seen.append((path.rsplit("/", 1)[-1], who))


def _lookup_seconds(sw: Switch, user: str) -> float:
    """One directory lookup through xml_curl (FreeSWITCH's cache flushed first)."""
    domain = sw.settings.sip_domain
    sw.esl.api(f"xml_flush_cache id {user} {domain}")
    start = time.monotonic()
    answer = sw.esl.api(f"user_exists id {user} {domain}")
    took = time.monotonic() - start
    assert answer.strip() == "true", answer
    return took


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def _bind(sw: Switch, urls: list[str]) -> None:
    """Render the switch's configuration for these control planes and make it read its
    bindings again: mod_xml_curl reads them from the loaded XML when it loads."""
    settings = sw.settings.model_copy(update={"control_plane_urls": ",".join(urls)})
    today = sw.clock.now().astimezone(PARIS).date()
    render(settings, sw.db, Path(sw.settings.freeswitch_conf_dir), today)
    assert "+OK" in sw.esl.api("reloadxml")
    assert "+OK" in sw.esl.api("reload mod_xml_curl")


def _median_lookup(sw: Switch, user: str) -> float:
    return sorted(_lookup_seconds(sw, user) for _ in range(5))[2]


def _queued(sw: Switch) -> list[str]:
    """The kiosks waiting, as the leader wrote them into the database, in arrival order."""
    with sw.db.session() as session:
        rows = session.scalars(
            select(QueueEntry).order_by(QueueEntry.arrived_at, QueueEntry.seq)
        ).all()
        return [r.kiosk_id for r in rows if r.state == "waiting"]


@pytest.fixture
def two_planes(
    make_switch: Callable[..., Switch],
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Switch, int, int]]:
    """A switch whose xml_curl asks 127.0.0.1:first, then 127.0.0.1:second."""
    first, second = free_port(), free_port()
    monkeypatch.setenv("PVP_DATABASE_URL", postgres_url)  # the harness's Settings read them
    monkeypatch.setenv(
        "PVP_CONTROL_PLANE_URLS", f"http://127.0.0.1:{first},http://127.0.0.1:{second}"
    )
    sw = make_switch(None)
    assert sw.db.engine.dialect.name == "postgresql"
    sw.control_plane.stop()  # the harness's own: the two planes below take its place
    yield sw, first, second


def test_the_first_control_plane_and_leader_killed_the_other_answers_the_switch_and_serves(
    two_planes: tuple[Switch, int, int], tmp_path: Path
) -> None:
    sw, first_port, second_port = two_planes
    first = ServeProcess(
        sw.settings.model_copy(update={"fake_now": PERMANENCE}), first_port, tmp_path / "first.log"
    )
    second = ControlPlane(
        sw.settings.model_copy(update={"http_port": second_port}),
        Database(sw.settings.resolved_database_url()),
        sw.clock,
    )
    lead_second: Leadership | None = None
    try:
        assert eventually(first.answers, timeout=30), first.log.read_text()
        assert eventually(
            lambda: any(f"pid {first.proc.pid}" in h.application for h in _holders(sw)), 15
        ), first.log.read_text()
        second.start_http()
        asked = Asked(second.app)
        lead_second = lead(second, check_seconds=1.0)  # `pvp serve`'s
        sw.travel_to(PERMANENCE)

        msa = registered(sw.agent(C1, "udp", tone=880))  # console offline: the citizen waits
        assert eventually(lambda: first.logged(f"counsellor {C1} SIP: False -> True"), 15), (
            first.log.read_text()
        )
        citizen = kiosk(sw, "kiosk-vorey-1")
        press(citizen, "msa")
        assert eventually(lambda: _queued(sw) == ["kiosk-vorey-1"], 15)
        assert second.services is None  # a standby: exactly one dispatcher
        assert not asked.seen  # the first binding answered everything so far
        # Both serve the panel; the doctor names the leader by its process.
        for url in (first.url, f"http://127.0.0.1:{second_port}"):
            assert "Connexion" in _page(f"{url}/login"), url
        leader = check_leader(sw.settings)
        assert leader.ok and f"pid {first.proc.pid}" in leader.french, leader

        both_up = _median_lookup(sw, "kiosk-cunlhat-1")
        # Hung (accepts, never answers): each lookup waits the binding's timeout.
        first.proc.send_signal(signal.SIGSTOP)
        try:
            hung = _lookup_seconds(sw, "kiosk-cunlhat-1")
            # Taken out of the list (rendered again, then reloaded), it costs nothing.
            _bind(sw, [f"http://127.0.0.1:{second_port}"])
            without_hung = _median_lookup(sw, "kiosk-cunlhat-1")
            _bind(sw, sw.settings.control_planes())
        finally:
            first.proc.send_signal(signal.SIGCONT)
        timeout = sw.settings.xml_curl_timeout_seconds
        assert timeout - 0.1 < hung < timeout + 1.5, hung
        assert without_hung < 0.5, without_hung
        assert ("directory", "kiosk-cunlhat-1") in asked.seen

        # Only the control planes know this kiosk's new secret, not the static fallback.
        with sw.db.session() as session:
            sw.passwords["kiosk-vorey-2"] = rotate_secret(
                session, "kiosk-vorey-2", sw.settings.sip_domain
            )
        first.proc.kill()
        killed_at = time.monotonic()
        first.proc.wait()
        dead = _median_lookup(sw, "kiosk-cunlhat-1")
        assert dead < 0.5, dead  # refused: the next binding at once

        # A kiosk arrives during the handover: its directory entry and its press come from
        # the second control plane, whether or not it leads yet.
        newcomer = kiosk(sw, "kiosk-vorey-2")
        assert ("directory", "kiosk-vorey-2") in asked.seen
        press(newcomer, "msa")  # the second plane's dialplan parks it for the queue
        during_handover = second.services is None
        assert any(section == "dialplan" for section, _ in asked.seen)

        assert eventually(lambda: second.services is not None, timeout=20)
        takeover = time.monotonic() - killed_at
        print(
            f"lookup: both up {both_up * 1000:.1f} ms, first dead {dead * 1000:.1f} ms,"
            f" first hung {hung:.2f} s, hung one out of the list {without_hung * 1000:.1f} ms;"
            f" takeover {takeover:.2f} s;"
            f" newcomer pressed {'before' if during_handover else 'after'} the new leader"
        )
        assert takeover < 8
        sw.control_plane = second
        # The waiting citizen keeps the first place; the newcomer (adopted from the switch's
        # parked channels if it pressed while nobody dispatched) comes after.
        assert eventually(lambda: waiting_calls(sw) == ["kiosk-vorey-1", "kiosk-vorey-2"])
        # The doctor: the first control plane does not answer, the second does and leads.
        answering = [check_xml_curl(sw.settings, url).ok for url in sw.settings.control_planes()]
        assert answering == [False, True]
        leader = check_leader(sw.settings)
        assert leader.ok and f"pid {os.getpid()}" in leader.french, leader

        served_by_the_new_leader(sw, msa, citizen, call_of(sw, "kiosk-vorey-1"))
        hang_up(newcomer)
    finally:
        first.stop()
        if lead_second is not None:
            lead_second.stop()
        second.stop()
        second.db.engine.dispose()


def _holders(sw: Switch) -> list[Any]:
    with sw.db.engine.connect() as conn:
        return lease_holders(conn)


def test_a_fax_received_is_stored_once_by_the_leader_not_once_per_control_plane(
    shared_freeswitch: MinimalSwitch, db: Database, settings: Settings, tmp_path: Path
) -> None:
    """FreeSWITCH gives every control plane's event socket the fax result: only the
    dispatcher leader's stores it (and would print it on a kiosk)."""

    fs = shared_freeswitch
    tiff = tmp_path / "fax.tiff"
    tiff.write_bytes(pdf_to_fax_tiff(text_pdf("FAX reçu une seule fois")))
    clients = []
    for leads in (True, False):  # the leader, then a standby
        client = ESLClient("127.0.0.1", fs.esl_port, fs.password, events=switch.EVENTS)
        switch.attach(client, DocumentService.create(db, settings), partial(bool, leads))
        client.start()
        clients.append(client)
    try:
        assert all(c.wait_connected(10) for c in clients)
        clients[0].send(
            "sendevent CUSTOM",
            fax_received(tiff),
        )
        assert eventually(lambda: _faxes_in(db))
        time.sleep(1)  # the standby's copy would have arrived by now
    finally:
        for client in clients:
            client.stop()
    assert _faxes_in(db) == [(COUNSELLOR, "done")]


def _faxes_in(db: Database) -> list[tuple[str, str]]:
    """Each received fax's recipient and status."""
    with db.session() as session:
        rows = session.scalars(select(DocumentTransfer).where(DocumentTransfer.kind == "fax_in"))
        return [(row.recipient, row.status) for row in rows]
