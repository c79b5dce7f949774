"""A minimal baresip 1.0 user agent for the live tests, driven over ctrl_tcp.

One baresip process per agent, with its own config directory: one account
``sip:<user>@<domain>`` through an outbound proxy (FreeSWITCH over TLS with mandatory SRTP,
or UDP), a sine tone as microphone, a fake camera (three colour bars), and the
JSON-netstring control socket on a free port. sndfile records, per call, what the agent sent
and received (WAV), and ``snapshot_recv`` saves a received video frame. ``pvp/kiosk/baresip``
is the full driver; this one only does what the switch tests need: register, dial, answer,
hang up, wait for events, and keep the media for the tests to check.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.ports import free_port

log = logging.getLogger("tests.live.ua")

BARESIP = "baresip"
MODULES = (
    "opus.so",
    "g722.so",
    "g711.so",
    "vp8.so",
    "srtp.so",
    "ausine.so",
    "fakevideo.so",
    "aubridge.so",
    "sndfile.so",
    "snapshot.so",
)
APP_MODULES = ("menu.so", "ctrl_tcp.so")


@dataclass(frozen=True)
class Account:
    user: str
    password: str
    domain: str
    proxy_host: str
    proxy_port: int
    transport: str = "tls"  # tls | udp | tcp
    srtp: bool = True
    regint: int = 600  # seconds between registrations (0: never registers)

    def line(self) -> str:
        aor = f"sip:{self.user}@{self.domain}"
        proxy = f"sip:{self.proxy_host}:{self.proxy_port}"
        if self.transport != "udp":
            aor += f";transport={self.transport}"
            proxy += f";transport={self.transport}"
        params = [f"auth_pass={self.password}", f'outbound="{proxy}"', f"regint={self.regint}"]
        if self.srtp:
            params.append("mediaenc=srtp-mand")
        return f"<{aor}>;" + ";".join(params)


class UserAgent:
    """A running baresip: :meth:`command` sends, :meth:`wait_event` receives."""

    def __init__(
        self, account: Account, workdir: Path, ca_file: Path | None = None, tone: int = 440
    ) -> None:
        self.account = account
        self.dir = workdir
        self.tone = tone
        self.dir.mkdir(parents=True, exist_ok=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._seen: list[dict[str, Any]] = []
        self._token = 0
        # A free port can be taken by another process before baresip binds it; then the
        # control socket may even connect to that other process. Read baresip's own word.
        for attempt in range(5):
            self.ctrl_port, self.sip_port = free_port(), free_port()
            self._write_config(ca_file)
            self._log = open(self.dir / "baresip.log", "wb")  # noqa: SIM115
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(self.dir)],
                cwd=self.dir,  # where snapshot_recv writes its (relative) file
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                self._wait_ready()
                self._sock = self._connect()
                break
            except RuntimeError:
                self._stop_process()
                if attempt == 4:
                    raise
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            created = self.command("uanew", self.account.line())
        except queue.Empty:
            self.close()
            raise RuntimeError(f"baresip did not answer uanew; see {self.dir}") from None
        if not created.get("ok"):
            self.close()
            raise RuntimeError(f"baresip refused the account: {created}")

    def _wait_ready(self) -> None:
        """Until baresip says it is ready; a port it could not bind means another try."""
        log_file = self.dir / "baresip.log"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = log_file.read_bytes()
            if b"Address already in use" in text:
                raise RuntimeError(f"baresip could not bind its ports; see {log_file}")
            if b"baresip is ready" in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"baresip did not start; see {log_file}")

    def _write_config(self, ca_file: Path | None) -> None:
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "call_local_timeout 120",
            "audio_player aubridge,nil",
            f"audio_source ausine,{self.tone}",
            "audio_alert aubridge,nil",
            "ausrc_srate 48000",
            "ausrc_channels 2",
            "video_source fakevideo,nil",
            "video_size 352x288",
            "video_fps 15",
            # Mono Opus, as browsers send: stereo would make FreeSWITCH transcode (NOTES.md).
            "opus_stereo no",
            "opus_sprop_stereo no",
            "module_path /usr/lib/baresip/modules",
            *(f"module {m}" for m in MODULES),
            *(f"module_app {m}" for m in APP_MODULES),
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.recordings}",
        ]
        self.recordings.mkdir(exist_ok=True)
        if ca_file:
            lines.append(f"sip_cafile {ca_file}")
        (self.dir / "config").write_text("\n".join(lines) + "\n")
        # The account is added over ctrl_tcp once connected, so no event is missed.
        (self.dir / "accounts").write_text("")
        (self.dir / "contacts").write_text("")

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.dir / "baresip.log"
                    raise RuntimeError(f"baresip did not start; see {log}") from None
                time.sleep(0.05)

    def _read(self) -> None:
        buffer = b""
        self._sock.settimeout(None)
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:  # netstrings: <length>:<payload>,
                length, rest = buffer.split(b":", 1)
                size = int(length)
                if len(rest) < size + 1:
                    break
                message = json.loads(rest[:size])
                buffer = rest[size + 1 :]
                (self.events if message.get("event") else self._responses).put(message)

    def command(self, name: str, params: str = "", timeout: float = 5) -> dict[str, Any]:
        self._token += 1
        log.info("%s: %s %s", self.account.user, name, "…" if name == "uanew" else params)
        payload = json.dumps({"command": name, "params": params, "token": str(self._token)})
        data = payload.encode()
        self._sock.sendall(b"%d:%s," % (len(data), data))
        return self._responses.get(timeout=timeout)

    def wait_event(self, *types: str, timeout: float = 10) -> dict[str, Any]:
        """The next event of one of ``types`` (others are skipped and kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.account.user}: no {types} within {timeout} s")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event.get("type") in types:
                return event

    @property
    def seen(self) -> list[dict[str, Any]]:
        """Every event :meth:`wait_event` took, in order."""
        return self._seen

    def dial(self, target: str) -> dict[str, Any]:
        return self.command("dial", f"sip:{target}@{self.account.domain}")

    @property
    def recordings(self) -> Path:
        return self.dir / "rec"

    def recording(self, direction: str) -> Path:
        """The last call's WAV of what this agent received (``dec``) or sent (``enc``)."""
        found = sorted(
            self.recordings.glob(f"dump-*-{direction}.wav"), key=lambda p: p.stat().st_mtime
        )
        if not found:
            raise FileNotFoundError(f"{self.account.user}: no {direction} recording")
        return found[-1]

    def snapshot(self, name: str, timeout: float = 5) -> Path:
        """The next video frame received in the current call, saved as PNG."""
        path = self.dir / name
        path.unlink(missing_ok=True)
        reply = self.command("snapshot_recv", name)
        if not reply.get("ok"):
            raise RuntimeError(f"snapshot_recv refused: {reply}")
        deadline = time.monotonic() + timeout
        while not (path.exists() and path.stat().st_size > 0):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.account.user}: no video frame within {timeout} s")
            time.sleep(0.05)
        time.sleep(0.1)  # the writer may still be flushing the file
        return path

    def _stop_process(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
        self._stop_process()
