"""A small SIP endpoint that registers as a kiosk and keeps the MESSAGEs it receives.

baresip 1.0 answers ``415`` to a MESSAGE that is not text/plain and never reports a body on
ctrl_tcp (NOTES.md), so it cannot show what the dispatcher tells a waiting kiosk. This
endpoint registers as the same kiosk (a second contact of its AOR, as a kiosk agent's own
message channel would), with digest authentication over UDP, and answers ``200 OK`` to every
MESSAGE, keeping its content type and body.
"""

from __future__ import annotations

import hashlib
import queue
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    content_type: str
    body: str
    sender: str


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5


def digest(user: str, password: str, challenge: str, method: str, uri: str) -> str:
    """The (Proxy-)Authorization value answering a digest ``challenge``."""
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1 = _md5(f"{user}:{fields['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    cnonce, nc = secrets.token_hex(8), "00000001"
    if "auth" in fields.get("qop", "").split(","):
        response = _md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response, extra = _md5(f"{ha1}:{fields['nonce']}:{ha2}"), ""
    return (
        f'Digest username="{user}", realm="{fields["realm"]}", '
        f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", '
        f"algorithm=MD5{extra}"
    )


def _parse(data: bytes) -> tuple[str, dict[str, str], str]:
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return lines[0], headers, body


def _vias(data: bytes) -> list[str]:
    """A request's Via header lines, in order."""
    head = data.decode(errors="replace").partition("\r\n\r\n")[0]
    return [line for line in head.split("\r\n")[1:] if line.lower().startswith(("via:", "v:"))]


class SipInbox:
    def __init__(self, user: str, password: str, domain: str, proxy: tuple[str, int]) -> None:
        self.user, self.password, self.domain, self.proxy = user, password, domain, proxy
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.messages: queue.Queue[Message] = queue.Queue()
        self._replies: queue.Queue[tuple[str, dict[str, str]]] = queue.Queue()
        self._call_id = f"{secrets.token_hex(8)}@127.0.0.1"
        self._cseq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ register

    def register(self, expires: int = 300, timeout: float = 5) -> None:
        """REGISTER, answer the digest challenge; raises unless FreeSWITCH says 200."""
        status, headers = self._register(expires, None, timeout)
        if status.split()[1] in ("401", "407"):
            challenge = headers.get("www-authenticate") or headers.get("proxy-authenticate", "")
            status, headers = self._register(expires, self._authorization(challenge), timeout)
        if status.split()[1] != "200":
            raise RuntimeError(f"{self.user}: REGISTER answered {status}")

    def unregister(self) -> None:
        try:
            self.register(expires=0, timeout=2)
        except (RuntimeError, TimeoutError):
            pass

    def _authorization(self, challenge: str) -> str:
        return digest(self.user, self.password, challenge, "REGISTER", f"sip:{self.domain}")

    def _register(
        self, expires: int, authorization: str | None, timeout: float
    ) -> tuple[str, dict[str, str]]:
        self._cseq += 1
        lines = [
            f"REGISTER sip:{self.domain} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag=inbox",
            f"To: <sip:{self.user}@{self.domain}>",
            f"Call-ID: {self._call_id}",
            f"CSeq: {self._cseq} REGISTER",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>",
            f"Expires: {expires}",
            "User-Agent: pvp-test-inbox",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        self._send(lines, "")
        return self._final_reply(self._call_id, f"{self._cseq} REGISTER", timeout)

    # -------------------------------------------------------------------- receive

    def send_message(self, to_user: str, body: str, content_type: str, timeout: float = 5) -> int:
        """A MESSAGE to ``to_user@domain`` through the proxy, as the kiosk sends its answers
        (the digest challenge answered); the final status code."""
        uri, call_id = f"sip:{to_user}@{self.domain}", f"{secrets.token_hex(8)}@127.0.0.1"
        via = f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport"
        authorization = ""
        for cseq in (1, 2):
            lines = [
                f"MESSAGE {uri} SIP/2.0",
                f"{via};branch=z9hG4bK{secrets.token_hex(6)}",
                "Max-Forwards: 70",
                f"From: <sip:{self.user}@{self.domain}>;tag={secrets.token_hex(4)}",
                f"To: <{uri}>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} MESSAGE",
                f"Content-Type: {content_type}",
                *([authorization] if authorization else []),
            ]
            self._send(lines, body)
            status, headers = self._final_reply(call_id, f"{cseq} MESSAGE", timeout)
            code = int(status.split()[1])
            if code not in (401, 407) or authorization:
                return code
            name = "Authorization" if code == 401 else "Proxy-Authorization"
            challenge = headers.get("www-authenticate") or headers.get("proxy-authenticate", "")
            authorization = f"{name}: {digest(self.user, self.password, challenge, 'MESSAGE', uri)}"
        raise AssertionError("unreachable")

    def _final_reply(self, call_id: str, cseq: str, timeout: float) -> tuple[str, dict[str, str]]:
        """The final reply to the request ``cseq`` of ``call_id`` (provisional ones skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.user}: no answer to {cseq}")
            status, headers = self._replies.get(timeout=left)
            final = not status.split()[1].startswith("1")
            if final and (headers.get("call-id"), headers.get("cseq")) == (call_id, cseq):
                return status, headers

    def wait_message(self, timeout: float = 10) -> Message:
        return self.messages.get(timeout=timeout)

    def _send(self, lines: list[str], body: str) -> None:
        payload = "\r\n".join([*lines, f"Content-Length: {len(body.encode())}", "", body])
        self.sock.sendto(payload.encode(), self.proxy)

    def _read(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            first, headers, body = _parse(data)
            if first.startswith("SIP/2.0"):
                self._replies.put((first, headers))
                continue
            method = first.split()[0]
            if method == "MESSAGE":
                self.messages.put(
                    Message(headers.get("content-type", ""), body, headers.get("from", ""))
                )
            # Every request gets 200 (MESSAGE, OPTIONS, NOTIFY): the headers a reply copies,
            # every Via among them (through Kamailio, the switch's is the second one).
            reply = ["SIP/2.0 200 OK", *_vias(data)]
            for name in ("from", "call-id", "cseq"):
                reply.append(f"{name.title()}: {headers.get(name, '')}")
            reply.append(f"To: {headers.get('to', '')};tag=inbox")
            payload = "\r\n".join([*reply, "Content-Length: 0", "", ""])
            self.sock.sendto(payload.encode(), source)

    def close(self) -> None:
        self.unregister()
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
