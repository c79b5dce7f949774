"""Live: what a SIP scanner learns from the switch on the project's configuration.

SIPVicious (issue 10) read the exact FreeSWITCH version from a vanilla profile; a wrong
password for an unknown user was answered on another path than for a provisioned one, in
3.1–7.7 ms against 1.1–2.7 ms (issue 15), so users could be enumerated.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pvp.wire.messages import COMMAND_TYPE
from testkit.calls import eventually
from testkit.live_switch import Switch
from testkit.sip_inbox import SipInbox

pytestmark = pytest.mark.live

BIN = Path(sys.executable).parent


def sipvicious(tool: str, *args: str, home: Path) -> str:
    exe = BIN / f"sipvicious_{tool}"
    if not exe.exists():
        pytest.skip(f"{exe.name} missing: pip install sipvicious (test extras)")
    done = subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(home)},  # it keeps its sessions under ~/.sipvicious
        check=False,
    )
    return done.stdout + done.stderr


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


class Registrar:
    """Bare REGISTERs over UDP, to see exactly what the switch answers and when."""

    def __init__(self, port: int, domain: str) -> None:
        self.port, self.domain = port, domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.local = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def _request(
        self, user: str, call_id: str, cseq: int, extra: str = "", expires: int = 60
    ) -> str:
        branch = "z9hG4bK" + secrets.token_hex(8)
        return (
            f"REGISTER sip:{self.domain} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};rport;branch={branch}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{user}@{self.domain}>;tag={call_id[:8]}\r\n"
            f"To: <sip:{user}@{self.domain}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{self.local}>\r\n"
            f"Expires: {expires}\r\n"
            f"{extra}"
            "Content-Length: 0\r\n\r\n"
        )

    def _final(self) -> str:
        while True:
            data = self.sock.recv(65535).decode(errors="replace")
            if not data.startswith("SIP/2.0 1"):
                return data

    def wrong_password(self, user: str) -> tuple[int, float]:
        """The final status of a REGISTER with a wrong password, and how long it took."""
        return self.register(user, "not-the-password")

    def register(self, user: str, password: str, expires: int = 60) -> tuple[int, float]:
        call_id = secrets.token_hex(12)
        first = self._request(user, call_id, 1, expires=expires)
        self.sock.sendto(first.encode(), ("127.0.0.1", self.port))
        challenge = self._final()
        found = re.search(r'nonce="([^"]+)"', challenge)
        realm = re.search(r'realm="([^"]+)"', challenge)
        if not found or not realm:
            return int(challenge.split()[1]), 0.0
        nonce, uri, cnonce = found.group(1), f"sip:{self.domain}", secrets.token_hex(8)
        ha1 = _md5(f"{user}:{realm.group(1)}:{password}")
        response = _md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{_md5('REGISTER:' + uri)}")
        auth = (
            f'Authorization: Digest username="{user}", realm="{realm.group(1)}", '
            f'nonce="{nonce}", uri="{uri}", response="{response}", algorithm=MD5, '
            f'qop=auth, nc=00000001, cnonce="{cnonce}"\r\n'
        )
        started = time.perf_counter()
        second = self._request(user, call_id, 2, auth, expires)
        self.sock.sendto(second.encode(), ("127.0.0.1", self.port))
        final = self._final()
        return int(final.split()[1]), (time.perf_counter() - started) * 1000


def test_a_scanner_reads_no_version_and_finds_no_extension(fresh: Switch, tmp_path: Path) -> None:
    port = str(fresh.settings.sip_port)
    mapped = sipvicious("svmap", "-p", port, "127.0.0.1", home=tmp_path)
    print(mapped)
    assert "PVP" in mapped, "svmap did not see the switch at all"
    assert "FreeSWITCH" not in mapped and not re.search(r"\d+\.\d+\.\d+", mapped.split("PVP")[1])
    known = ["kiosk-vorey-1", "msa-43-c1", "anpe-le-puy-c1"]
    names = tmp_path / "names.txt"
    names.write_text("\n".join([*known, "kiosk-nowhere-1", "100", "1000", "admin"]) + "\n")
    for method in ("REGISTER", "INVITE", "OPTIONS"):
        found = sipvicious(
            "svwar",
            "--force",
            "-p",
            port,
            "-m",
            method,
            "-d",
            str(names),
            "127.0.0.1",
            home=tmp_path,
        )
        print(method, found)
        # svwar prints a table of "Extension | Authentication" for what it finds.
        assert "found nothing" in found and "Extension" not in found, f"svwar ({method})"


def test_a_wrong_password_is_answered_alike_for_unknown_and_provisioned_users(
    fresh: Switch,
) -> None:
    registrar = Registrar(fresh.settings.sip_port, fresh.settings.sip_domain)
    guard = fresh.control_plane.app.extensions["pvp.sip_guard"]
    guard.threshold = 10**6  # measure the answers themselves, not the block below
    try:
        for user in ("msa-43-c1", "nobody-here"):  # warm FreeSWITCH's directory cache
            registrar.wrong_password(user)
        known, unknown = [], []
        for n in range(25):
            known.append(registrar.wrong_password("msa-43-c1"))
            unknown.append(registrar.wrong_password(f"nobody-{n % 5}"))
        # Every failure reached the guard (events come asynchronously) before it is reset.
        assert eventually(lambda: guard.recent_failures("127.0.0.1") >= 52, 10)
    finally:
        registrar.close()
        guard.threshold = fresh.settings.sip_block_failures
        guard.clear()
    assert {s for s, _ in known} == {s for s, _ in unknown}, (known, unknown)
    k = statistics.median(t for _, t in known)
    u = statistics.median(t for _, t in unknown)
    print(f"\nwrong password, median: provisioned {k:.2f} ms, unknown {u:.2f} ms")
    assert abs(k - u) < max(0.5, 0.3 * k), (known, unknown)


def test_repeated_failures_block_the_address_even_for_the_right_password(fresh: Switch) -> None:
    registrar = Registrar(fresh.settings.sip_port, fresh.settings.sip_domain)
    guard = fresh.control_plane.app.extensions["pvp.sip_guard"]
    user, password = "msa-43-c1", fresh.passwords["msa-43-c1"]
    guard.threshold = 10  # pvp serve's default (the live switch raises it for other tests)
    try:
        assert registrar.register(user, password, expires=0)[0] == 200  # before: it works
        for _ in range(guard.threshold):
            assert registrar.wrong_password(user)[0] == 403
        assert eventually(lambda: guard.blocked("127.0.0.1"), 5), "no block from the events"
        (block,) = guard.blocks()
        assert (block.address, block.users) == ("127.0.0.1", [user])
        # Blocked: the right password fails too (FreeSWITCH's cached entry was flushed).
        assert registrar.register(user, password, expires=0)[0] == 403
        guard.clear()  # the block ends
        assert registrar.register(user, password, expires=0)[0] == 200
    finally:
        guard.threshold = fresh.settings.sip_block_failures
        guard.clear()
        registrar.close()


def test_the_switch_drops_a_message_from_outside_claiming_to_be_the_control_plane(
    fresh: Switch,
) -> None:
    s = fresh.settings
    kiosk = SipInbox(
        "kiosk-vorey-1",
        fresh.passwords["kiosk-vorey-1"],
        s.sip_domain,
        s.sip_host,
        s.sip_port,
        "tcp",
    )
    sender = SipInbox(
        "msa-43-c1", fresh.passwords["msa-43-c1"], s.sip_domain, s.sip_host, s.sip_port, "tcp"
    )
    try:
        kiosk.register()
        forged = '{"v":1,"type":"command","id":"c-1","name":"print","call":null,"from":"pvp"}'
        for claimed in ("pvp", "PVP"):
            sender.send_message("kiosk-vorey-1", forged, COMMAND_TYPE, from_user=claimed)
        with pytest.raises(queue.Empty):
            kiosk.messages.get(timeout=2)
        # The same account under its own name still reaches the kiosk (which then refuses
        # it: not the control plane, and not sealed).
        sender.send_message("kiosk-vorey-1", forged, COMMAND_TYPE)
        assert kiosk.messages.get(timeout=5).header("from").find("msa-43-c1") > 0
    finally:
        kiosk.register(expires=0)
        kiosk.close()
        sender.close()
