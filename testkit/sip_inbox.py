"""A SIP user agent that only registers and receives MESSAGEs, over TLS or TCP (RFC 3261).

Stands for the kiosk agent's messaging endpoint in the live tests (baresip 1.0 cannot hand
over a MESSAGE body, NOTES.md): the queue news a waiting kiosk gets, the document commands,
forged senders. It registers with Digest authentication (a second contact of the kiosk's AOR
where baresip holds the first), keeps its connection (FreeSWITCH answers kiosks on the
connection they opened), answers ``200`` to each MESSAGE and keeps its content type and body.
"""

from __future__ import annotations

import hashlib
import queue
import re
import secrets
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "l": "content-length",
    "c": "content-type",
}


@dataclass(frozen=True)
class Message:
    method: str
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), [""])[0]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP Digest is MD5


class SipInbox:
    def __init__(
        self,
        user: str,
        password: str,
        domain: str,
        host: str,
        port: int,
        transport: str = "tls",
        ca_file: Path | None = None,
    ) -> None:
        self.user, self.password, self.domain = user, password, domain
        self.transport = transport
        raw = socket.create_connection((host, port), timeout=10)
        if transport == "tls":
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            context.check_hostname = False
            if ca_file is None:
                context.verify_mode = ssl.CERT_NONE
            raw = context.wrap_socket(raw)
        raw.settimeout(None)  # the reader waits for MESSAGEs as long as it takes
        self.sock = raw
        self.local_port = raw.getsockname()[1]
        self.buffer = b""
        self.error: Exception | None = None
        self.messages: queue.Queue[Message] = queue.Queue()
        self._responses: queue.Queue[Message] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- wire -------------------------------------------------------------------------

    def _read_message(self) -> Message:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers.setdefault(COMPACT.get(key, key), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Message(lines[0], headers, body)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise OSError("connection closed")
        self.buffer += chunk

    def _read_loop(self) -> None:
        try:
            while True:
                message = self._read_message()
                if message.method.startswith("SIP/2.0"):
                    self._responses.put(message)
                    continue
                self._answer(message)
                if message.method.startswith("MESSAGE"):
                    self.messages.put(message)
        except (OSError, ValueError) as exc:
            self.error = exc
            return

    def _answer(self, request: Message) -> None:
        to = request.header("to")
        if ";tag=" not in to:
            to += f";tag={secrets.token_hex(4)}"
        lines = ["SIP/2.0 200 OK"]
        lines += [f"Via: {via}" for via in request.headers.get("via", [])]
        lines += [
            f"From: {request.header('from')}",
            f"To: {to}",
            f"Call-ID: {request.header('call-id')}",
            f"CSeq: {request.header('cseq')}",
            "Content-Length: 0",
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    # ---- registration -----------------------------------------------------------------

    def register(self, expires: int = 600) -> None:
        contact = f"<sip:{self.user}@127.0.0.1:{self.local_port};transport={self.transport}>"
        status = self.request(
            "REGISTER",
            f"sip:{self.domain}",
            f"sip:{self.user}@{self.domain}",
            [f"Contact: {contact}", f"Expires: {expires}"],
        )
        if status != 200:
            raise RuntimeError(f"REGISTER refused: {status}")

    def send_message(
        self, to_user: str, body: str, content_type: str, from_user: str | None = None
    ) -> int:
        """A MESSAGE to ``to_user@domain`` through the switch; the final status code.

        ``from_user`` puts another user in From (the digest stays this inbox's own)."""
        uri = f"sip:{to_user}@{self.domain}"
        extra = [f"Content-Type: {content_type}"]
        return self.request("MESSAGE", uri, uri, extra, body.encode(), from_user)

    def request(
        self,
        method: str,
        uri: str,
        to: str,
        extra: list[str],
        body: bytes = b"",
        from_user: str | None = None,
    ) -> int:
        """Send a request, answer one Digest challenge; the final status code."""
        call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
        authorization = None
        for cseq in (1, 2):
            lines = [
                f"{method} {uri} SIP/2.0",
                f"Via: SIP/2.0/{self.transport.upper()} 127.0.0.1:{self.local_port};"
                f"branch=z9hG4bK{secrets.token_hex(6)};rport",
                "Max-Forwards: 70",
                f"From: <sip:{from_user or self.user}@{self.domain}>;tag={tag}",
                f"To: <{to}>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} {method}",
                *extra,
            ]
            if authorization:
                lines.append(authorization)
            lines.append(f"Content-Length: {len(body)}")
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            response = self._final_response()
            status = int(response.method.split()[1])
            if status not in (401, 407) or authorization:
                return status
            authorization = self._authorization(response, status, method, uri)
        raise AssertionError("unreachable")

    def _final_response(self) -> Message:
        while True:
            response = self._responses.get(timeout=30)
            if int(response.method.split()[1]) >= 200:
                return response

    def _authorization(self, response: Message, status: int, method: str, uri: str) -> str:
        challenge = response.header("www-authenticate") or response.header("proxy-authenticate")
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        cnonce, nc = secrets.token_hex(8), "00000001"
        ha1 = _md5(f"{self.user}:{fields['realm']}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        if "qop" in fields:
            digest = _md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{ha2}")
            extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            digest = _md5(f"{ha1}:{fields['nonce']}:{ha2}")
            extra = ""
        header = "Authorization" if status == 401 else "Proxy-Authorization"
        return (
            f'{header}: Digest username="{self.user}", realm="{fields["realm"]}", '
            f'nonce="{fields["nonce"]}", uri="{uri}", response="{digest}", algorithm=MD5' + extra
        )

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
