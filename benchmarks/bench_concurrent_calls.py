"""Benchmark: how many concurrent audio+video calls one FreeSWITCH relays on this machine
without transcoding or loss.

    .venv/bin/python -m benchmarks.bench_concurrent_calls [--steps 2,4,8,12,16,24] [--hold 20]

The live harness's switch (the project's configuration, control plane, WSS profile) on
127.0.0.1. The callers and callees are headless WebRTC clients built on aiortc (DTLS-SRTP,
ICE, Opus + VP8) with a minimal SIP-over-WebSocket signalling written here (REGISTER,
INVITE, ACK, BYE, digest): pairs of extra counsellors call each other through the
``pvp-counsellors`` context, so every call is two bridged legs on the switch.

Per step of N calls, held ``--hold`` seconds: packets lost as the receivers count them
(sequence gaps) over the hold, FreeSWITCH's CPU (% of one core), the machine's CPU, and every
leg's audio read/write codec and video codec (ESL) -- any leg not Opus/VP8 both ways is a
transcoded one. The ramp stops at the first step with loss > 1 %, a transcoded leg, a failed
call, a saturated CPU, or clients that no longer keep up (the median video packet rate
received per client halved since the first step). The clients encode and decode VP8 at
320x240, 15 fps on the same two cores: on this machine they, not the switch, saturate first.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import hashlib
import json
import os
import re
import secrets
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioice.ice
from aiortc import (
    AudioStreamTrack,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import VideoFrame
from websockets.asyncio.client import ClientConnection, connect

from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.process import WHERE, find_binary
from pvp.model import Counsellor
from pvp.provisioning import rotate_secret
from testkit.live_switch import Switch, started

# aioice leaves 127.0.0.1 out of its host candidates; the benchmark is loopback-only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

MAX_LOSS = 0.01
SATURATED = 95.0  # % of the machine's CPU
WIDTH, HEIGHT, FPS = 320, 240, 15


class Bars(VideoStreamTrack):
    """A small moving picture (VP8 must code something that changes)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.row = bytes(x * 255 // WIDTH for x in range(WIDTH))  # a luma ramp

    async def recv(self) -> VideoFrame:
        await asyncio.sleep(1 / FPS)
        self.n += 1
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma, shift = frame.planes[0], self.n * 4 % WIDTH
        row = (self.row[shift:] + self.row[:shift]).ljust(luma.line_size, b"\0")
        luma.update(row * HEIGHT)
        for chroma in frame.planes[1:]:
            chroma.update(bytes([128]) * chroma.buffer_size)
        frame.pts, frame.time_base = self.n, fractions.Fraction(1, FPS)
        return frame


@dataclass
class Message:
    first: str
    headers: list[tuple[str, str]]
    body: str = ""

    @classmethod
    def parse(cls, text: str) -> Message:
        head, _, body = text.partition("\r\n\r\n")
        first, *lines = head.split("\r\n")
        headers = [(n.strip(), v.strip()) for n, v in (line.split(":", 1) for line in lines)]
        return cls(first, headers, body)

    def get(self, name: str) -> str:
        return next((v for n, v in self.headers if n.lower() == name.lower()), "")

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def status(self) -> int:
        return int(self.first.split()[1]) if self.first.startswith("SIP/2.0") else 0

    def text(self) -> str:
        lines = [self.first, *(f"{n}: {v}" for n, v in self.headers)]
        lines.append(f"Content-Length: {len(self.body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + self.body


def digest(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5

    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    answer = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in fields.get("qop", ""):
        cnonce = secrets.token_hex(8)
        response = md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
        answer += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    return answer + f', response="{response}", algorithm=MD5'


@dataclass
class Phone:
    """One SIP-over-WSS user agent with at most one call, media by aiortc."""

    user: str
    password: str
    domain: str
    ws: ClientConnection
    host: str = field(default_factory=lambda: f"{secrets.token_hex(6)}.invalid")
    tag: str = field(default_factory=lambda: secrets.token_hex(6))
    cseq: int = 1
    pc: RTCPeerConnection | None = None
    dialog: dict[str, str] = field(default_factory=dict)
    replies: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def request(
        self, method: str, uri: str, to: str, call_id: str, extra: list[Any], body: str = ""
    ) -> Message:
        self.cseq += 1
        return Message(
            f"{method} {uri} SIP/2.0",
            [
                ("Via", f"SIP/2.0/WSS {self.host};branch=z9hG4bK{secrets.token_hex(8)};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{self.user}@{self.domain}>;tag={self.tag}"),
                ("To", to),
                ("Call-ID", call_id),
                ("CSeq", f"{self.cseq} {method}"),
                ("Contact", f"<sip:{self.user}@{self.host};transport=ws>"),
                *extra,
            ],
            body,
        )

    async def send(self, message: Message) -> None:
        await self.ws.send(message.text())

    async def final(self, timeout: float = 15) -> Message:
        while True:
            reply = await asyncio.wait_for(self.replies.get(), timeout)
            if reply.status >= 200:
                return reply

    async def authed(
        self, method: str, uri: str, to: str, extra: list[Any], body: str = ""
    ) -> Message:
        """Send, answer a digest challenge once; the final reply."""
        call_id = secrets.token_hex(10)
        await self.send(self.request(method, uri, to, call_id, extra, body))
        reply = await self.final()
        if reply.status in (401, 407):
            if method == "INVITE":
                await self.ack(reply, uri)
            name = "Authorization" if reply.status == 401 else "Proxy-Authorization"
            challenge = reply.get("WWW-Authenticate") or reply.get("Proxy-Authenticate")
            auth = (name, digest(challenge, self.user, self.password, method, uri))
            await self.send(self.request(method, uri, to, call_id, [auth, *extra], body))
            reply = await self.final()
        return reply

    async def ack(self, reply: Message, uri: str) -> None:
        ack = self.request("ACK", uri, reply.get("To"), reply.get("Call-ID"), [])
        ack.headers[5] = ("CSeq", f"{reply.get('CSeq').split()[0]} ACK")
        self.cseq -= 1
        await self.send(ack)

    async def register(self) -> None:
        me = f"<sip:{self.user}@{self.domain}>"
        reply = await self.authed("REGISTER", f"sip:{self.domain}", me, [("Expires", "600")])
        if reply.status != 200:
            raise RuntimeError(f"{self.user}: REGISTER {reply.first}")

    async def call(self, callee: str) -> None:
        self.pc = add_tracks(RTCPeerConnection())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        uri = f"sip:{callee}@{self.domain}"
        assert self.pc.localDescription is not None
        sdp = [("Content-Type", "application/sdp")]
        reply = await self.authed("INVITE", uri, f"<{uri}>", sdp, self.pc.localDescription.sdp)
        if reply.status != 200:
            raise RuntimeError(f"{self.user} -> {callee}: {reply.first}")
        target = re.search(r"<([^>]+)>", reply.get("Contact"))
        self.dialog = {
            "uri": target.group(1) if target else uri,
            "to": reply.get("To"),
            "call_id": reply.get("Call-ID"),
        }
        await self.ack(reply, self.dialog["uri"])
        await self.pc.setRemoteDescription(RTCSessionDescription(for_aiortc(reply.body), "answer"))

    async def hang_up(self) -> None:
        if self.dialog and not self.ended.is_set():
            d = self.dialog
            await self.send(self.request("BYE", d["uri"], d["to"], d["call_id"], []))
            await self.final(10)
        await self.close_media()

    async def close_media(self) -> None:
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        self.dialog, self.answered, self.ended = {}, asyncio.Event(), asyncio.Event()

    async def on_request(self, message: Message) -> None:
        method = message.first.split()[0]
        if method == "ACK":
            return
        if method == "INVITE":
            await self.reply(message, 100, "Trying")
            # Tracks after the offer: aiortc then sends on the offer's transceivers.
            self.pc = RTCPeerConnection()
            offer = RTCSessionDescription(for_aiortc(message.body), "offer")
            await self.pc.setRemoteDescription(offer)
            add_tracks(self.pc)
            answer = await self.pc.createAnswer()
            # aiortc as DTLS client fails FreeSWITCH 1.10's handshake ("Handshake failure 1");
            # as server (the caller's role, which works) it does not.
            passive = answer.sdp.replace("a=setup:active", "a=setup:passive")
            await self.pc.setLocalDescription(RTCSessionDescription(passive, "answer"))
            assert self.pc.localDescription is not None
            await self.reply(message, 200, "OK", self.pc.localDescription.sdp)
            self.answered.set()
            return
        if method == "BYE":
            self.ended.set()
        await self.reply(message, 200, "OK")  # BYE, OPTIONS, INFO, NOTIFY

    async def reply(self, request: Message, code: int, reason: str, sdp: str = "") -> None:
        to = request.get("To")
        if code > 100 and ";tag=" not in to:
            to += f";tag={self.tag}"
        headers = [("Via", v) for v in request.all("Via")]
        headers += [(n, request.get(n)) for n in ("From", "Call-ID", "CSeq")]
        headers += [("To", to), ("Contact", f"<sip:{self.user}@{self.host};transport=ws>")]
        if sdp:
            headers.append(("Content-Type", "application/sdp"))
        await self.send(Message(f"SIP/2.0 {code} {reason}", headers, sdp))

    async def listen(self) -> None:
        async for text in self.ws:
            message = Message.parse(str(text))
            if message.status:
                self.replies.put_nowait(message)
            else:
                asyncio.ensure_future(self.on_request(message))


def for_aiortc(sdp: str) -> str:
    """FreeSWITCH's offers and answers to a WebRTC user leave out the direction (sendrecv by
    RFC 4566) and the mids; aiortc needs both."""
    sections = re.split(r"(?m)^(?=m=)", sdp)
    for n in range(1, len(sections)):
        if not re.search(r"(?m)^a=(sendrecv|sendonly|recvonly|inactive)", sections[n]):
            sections[n] += "a=sendrecv\r\n"
        if not re.search(r"(?m)^a=mid:", sections[n]):
            sections[n] += f"a=mid:{n - 1}\r\n"
    return "".join(sections)


def add_tracks(pc: RTCPeerConnection) -> RTCPeerConnection:
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(Bars())
    return pc


def extra_counsellors(count: int, passwords: dict[str, str]) -> Any:
    """The ``prepare`` of the live switch: ``count`` more counsellors (bench-0, bench-1...)
    in msa-43-c1's agency, their fresh SIP secrets into ``passwords``."""

    realm = Settings().sip_domain  # the live switch's

    def prepare(db: Database) -> None:
        with db.session() as session:
            model = session.get(Counsellor, "msa-43-c1")
            assert model is not None
            for n in range(count):
                name = f"bench-{n}"
                session.add(
                    Counsellor(id=name, agency_id=model.agency_id, display_name=name, a1_hash="0")
                )
            session.flush()
            for n in range(count):
                passwords[f"bench-{n}"] = rotate_secret(session, f"bench-{n}", realm)

    return prepare


async def open_phone(sw: Switch, user: str, password: str, context: ssl.SSLContext) -> Phone:
    url = f"wss://{sw.settings.sip_host}:{sw.settings.sip_wss_port}"
    ws = await connect(url, subprotocols=["sip"], ssl=context)  # type: ignore[list-item]
    phone = Phone(user, password, sw.settings.sip_domain, ws)
    asyncio.ensure_future(phone.listen())
    await phone.register()
    return phone


async def inbound(phones: list[Phone]) -> dict[tuple[str, str], tuple[int, int]]:
    """Packets received and lost (sequence gaps) per client and kind (audio, video)."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for phone in phones:
        if phone.pc is not None:
            for receiver in phone.pc.getReceivers():
                for stats in (await receiver.getStats()).values():
                    if stats.type == "inbound-rtp":
                        got, lost = found.get((phone.user, stats.kind), (0, 0))
                        found[phone.user, stats.kind] = (
                            got + stats.packetsReceived,
                            lost + max(0, stats.packetsLost),
                        )
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine() -> tuple[int, int]:
    """(busy, total) jiffies of all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def legs(sw: Switch) -> list[str]:
    """Every channel as 'audio read/write video', e.g. 'opus/opus VP8'."""
    rows = json.loads(sw.esl.api("show channels as json")).get("rows") or []
    found = []
    for row in rows:
        video = sw.esl.api(f"uuid_getvar {row['uuid']} rtp_use_video_codec_name").strip()
        found.append(f"{row.get('read_codec')}/{row.get('write_codec')} {video}")
    return found


@dataclass
class Step:
    calls: int
    failed: int = 0
    got: int = 0
    lost: int = 0
    switch_cpu: float = 0.0
    machine_cpu: float = 0.0
    legs: list[str] = field(default_factory=list)
    # Packets per second each client received, per kind.
    rates: dict[str, list[float]] = field(default_factory=lambda: {"audio": [], "video": []})

    @property
    def loss(self) -> float:
        return self.lost / max(1, self.got + self.lost)

    @property
    def transcoded(self) -> list[str]:
        return [leg for leg in self.legs if leg.lower() != "opus/opus vp8"]

    def why_stop(self, first: Step) -> str:
        video, start = self.rates["video"], first.rates["video"]
        if video and start and statistics.median(video) < statistics.median(start) / 2:
            return "the clients no longer keep up (video received per client halved)"
        if self.failed:
            return f"{self.failed} call(s) failed"
        if self.loss > MAX_LOSS:
            return f"loss {self.loss:.2%}"
        if self.transcoded:
            return f"transcoded legs: {sorted(set(self.transcoded))}"
        if self.machine_cpu >= SATURATED:
            return f"the machine's CPU saturated ({self.machine_cpu:.0f} %)"
        return ""

    def line(self) -> str:
        return (
            f"{self.calls:3} calls ({len(self.legs):3} legs):"
            f" lost {self.lost}/{self.got + self.lost}"
            f" ({self.loss:.2%}), FreeSWITCH CPU {self.switch_cpu:5.1f} % of a core, machine"
            f" {self.machine_cpu:5.1f} %, failed {self.failed}, transcoded {len(self.transcoded)}"
            + "".join(
                f"\n      {kind} received per client: min {min(r):4.0f}  median"
                f" {statistics.median(r):4.0f} packets/s"
                for kind, r in self.rates.items()
                if r
            )
        )


async def step(sw: Switch, phones: list[Phone], calls: int, hold: float) -> Step:
    result = Step(calls)
    pairs = [(phones[2 * n], phones[2 * n + 1]) for n in range(calls)]
    outcomes = await asyncio.gather(
        *(caller.call(callee.user) for caller, callee in pairs), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.failed += 1
            print(f"  a call failed: {outcome!r}"[:300])
    await asyncio.sleep(3)  # ICE, DTLS, first keyframes: the hold counts steady media
    used = phones[: 2 * calls]
    before = await inbound(used)
    pid = sw.fs.proc.pid if sw.fs.proc else 0
    cpu0, (busy0, total0), began = cpu_ticks(pid), machine(), time.monotonic()
    await asyncio.sleep(hold)
    cpu1, (busy1, total1), seconds = cpu_ticks(pid), machine(), time.monotonic() - began
    after = await inbound(used)
    for key, (got, lost) in after.items():
        got0, lost0 = before.get(key, (0, 0))
        result.got, result.lost = result.got + got - got0, result.lost + lost - lost0
        result.rates[key[1]].append((got - got0) / seconds)
    result.switch_cpu = (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK") / seconds * 100
    result.machine_cpu = (busy1 - busy0) / max(1, total1 - total0) * 100
    result.legs = await asyncio.to_thread(legs, sw)
    await asyncio.gather(*(caller.hang_up() for caller, _ in pairs), return_exceptions=True)
    await asyncio.gather(*(callee.close_media() for _, callee in pairs), return_exceptions=True)
    deadline = time.monotonic() + 15
    while sw.esl.channels() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    return result


async def ramp(sw: Switch, passwords: dict[str, str], steps: list[int], hold: float) -> None:
    context = ssl.create_default_context(cafile=str(sw.ca))
    phones = [await open_phone(sw, user, pw, context) for user, pw in sorted(passwords.items())]
    phones.sort(key=lambda p: int(p.user.split("-")[1]))
    best, first = 0, None
    for calls in steps:
        result = await step(sw, phones, calls, hold)
        first = first or result
        print(result.line(), flush=True)
        why = result.why_stop(first)
        if why:
            print(f"stopped at {calls} calls: {why}")
            break
        best = calls
    print(f"most concurrent calls carried without loss > {MAX_LOSS:.0%} or transcoding: {best}")
    for phone in phones:
        await phone.ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="2,4,8,12,16,24")
    parser.add_argument("--hold", type=float, default=20)
    parser.add_argument("--keep", default="", help="a directory for the switch (its logs kept)")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    binary = find_binary(Settings())
    if binary is None:
        print(f"FreeSWITCH not found: {WHERE}")
        return 2
    passwords: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="pvp-bench-calls-") as tmp:
        tmp = args.keep or tmp
        sw = started(binary, Path(tmp) / "switch", extra_counsellors(2 * max(steps), passwords))
        try:
            asyncio.run(asyncio.wait_for(ramp(sw, passwords, steps, args.hold), 900))
        finally:
            sw.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
