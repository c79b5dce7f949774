"""``pvp doctor`` on a pool: who leads the dispatcher (asked of a real PostgreSQL), and
Kamailio's dispatcher set (a real Kamailio probing a SIP responder and a dead address)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pvp.config import Settings
from pvp.deploy.kamailio import KamailioSite, render_kamailio
from pvp.deploy.leader import DISPATCHER_LOCK, LeaderLease
from pvp.deploy.pool import check_kamailio, check_leader

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def _until(check, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


# ---- the dispatcher leader ------------------------------------------------------------


def test_with_sqlite_the_only_control_plane_leads(tmp_path: Path) -> None:
    found = check_leader(Settings(data_dir=tmp_path))
    assert found.ok and "SQLite" in found.french


def test_no_leader_says_to_start_a_control_plane(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    found = check_leader(Settings(data_dir=tmp_path, database_url=postgres_url))
    assert not found.ok
    assert "Aucun plan de contrôle ne répartit" in found.french
    assert "systemctl start pvp-control" in found.french
    assert found.english == "no dispatcher leader: nobody holds the lease"


def test_the_leader_is_named_by_host_and_process(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    lease = LeaderLease(
        create_engine(postgres_url), lambda: None, lambda: None, check_seconds=0.1
    ).start()
    try:
        assert _until(lambda: lease.leader)
        found = check_leader(Settings(data_dir=tmp_path, database_url=postgres_url))
    finally:
        lease.stop()
    assert found.ok, found.english
    assert f"{socket.gethostname()} pid {os.getpid()}" in found.french
    assert found.french.startswith("Un seul plan de contrôle répartit les appels")
    # Stepped down: nobody leads any more, and the doctor says so.
    assert not check_leader(Settings(data_dir=tmp_path, database_url=postgres_url)).ok


def test_a_foreign_holder_of_the_lock_is_a_problem(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": DISPATCHER_LOCK})
            found = check_leader(Settings(data_dir=tmp_path, database_url=postgres_url))
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DISPATCHER_LOCK})
    finally:
        engine.dispose()
    assert not found.ok
    assert "autre chose qu'un plan de contrôle" in found.french


# ---- Kamailio ------------------------------------------------------------------------


class OptionsResponder:
    """A SIP 'switch' that answers every request 200 OK (enough for Kamailio's probes)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            head = data.decode(errors="replace").split("\r\n\r\n", 1)[0].split("\r\n")
            if head[0].startswith("SIP/2.0"):
                continue
            kept = [
                line
                for line in head[1:]
                if line.split(":", 1)[0].strip().lower()
                in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")
            ]
            reply = "\r\n".join(["SIP/2.0 200 OK", *kept, "Content-Length: 0", "", ""])
            self.sock.sendto(reply.encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def kamailio(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> Iterator[tuple[Settings, int, int]]:
    """Kamailio with a pool of two: a responder (alive) and a port nobody answers on, or
    (parametrized "both alive") two responders."""
    if not Path(KAMAILIO).exists():
        pytest.skip("kamailio not found (Debian's kamailio and kamailio-postgres-modules)")
    alive, other = OptionsResponder(), OptionsResponder()
    both_alive = getattr(request, "param", "") == "both alive"
    dead = other.port if both_alive else _free_udp_port()
    if not both_alive:
        other.close()
    work = tmp_path / "kamailio"
    work.mkdir()
    site = KamailioSite(
        "127.0.0.1",
        _free_udp_port(),
        "pvp.test",
        postgres_url,
        [("127.0.0.1", alive.port), ("127.0.0.1", dead)],
        work / "ctl",
        probe_seconds=1,
    )
    cfg = render_kamailio(site, work)
    with open(work / "kamailio.log", "wb") as log:
        proc = subprocess.Popen(
            [KAMAILIO, "-f", str(cfg), "-DD", "-E", "-Y", str(work), "-P", str(work / "pid")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert _until(lambda: (work / "ctl").exists()), (work / "kamailio.log").read_text()
        yield Settings(data_dir=tmp_path, kamailio_ctl_socket=str(work / "ctl")), alive.port, dead
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        alive.close()
        if both_alive:
            other.close()


def test_without_kamailio_there_is_nothing_to_check(tmp_path: Path) -> None:
    assert check_kamailio(Settings(data_dir=tmp_path)) == []


def test_a_kamailio_that_does_not_answer_says_to_start_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kamailio_ctl_socket=str(tmp_path / "no-ctl"))
    (found,) = check_kamailio(settings)
    assert not found.ok
    assert "Kamailio ne répond pas" in found.french and "systemctl status kamailio" in found.french


def test_a_switch_that_stops_answering_the_probes_is_named(
    kamailio: tuple[Settings, int, int],
) -> None:
    settings, alive, dead = kamailio

    def inactive_named() -> bool:
        (found,) = check_kamailio(settings)
        return not found.ok and f"127.0.0.1:{dead}" in found.french

    # Probed every second with a 2 s transaction timeout: the dead one leaves in seconds.
    assert _until(inactive_named, timeout=30)  # a loaded machine answers probes late
    (found,) = check_kamailio(settings)
    assert "1 commutateur(s) sur 2" in found.french
    assert f"127.0.0.1:{alive}" not in found.french
    assert f"sip:127.0.0.1:{dead}" in found.english


@pytest.mark.parametrize("kamailio", ["both alive"], indirect=True)
def test_a_pool_whose_switches_all_answer_passes(kamailio: tuple[Settings, int, int]) -> None:
    settings, first, second = kamailio
    # Give the probes a few rounds to have marked anything inactive.
    time.sleep(4)
    (found,) = check_kamailio(settings)
    assert found.ok, found.english
    assert found.french == "Kamailio répartit les appels sur 2 commutateur(s), tous actifs."
    assert f"sip:127.0.0.1:{first}" in found.english and f"sip:127.0.0.1:{second}" in found.english
