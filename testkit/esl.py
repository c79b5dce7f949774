"""A blocking Event Socket client for the live tests: authenticate, run ``api`` commands.

The control plane's own ESL client is ``pvp/freeswitch/esl.py``; the tests only need to ask
FreeSWITCH questions (``show channels``, ``uuid_getvar``) and act as the dispatcher would.
"""

from __future__ import annotations

import json
import socket
from typing import Any


class EslError(RuntimeError):
    pass


class Esl:
    def __init__(self, host: str, port: int, password: str, timeout: float = 10) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        headers, _ = self._frame()
        if headers.get("Content-Type") != "auth/request":
            raise EslError(f"unexpected greeting {headers}")
        self._send(f"auth {password}")
        headers, _ = self._frame()
        if not headers.get("Reply-Text", "").startswith("+OK"):
            raise EslError(f"authentication refused: {headers.get('Reply-Text')}")

    def _send(self, line: str) -> None:
        self._sock.sendall(line.encode() + b"\n\n")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EslError("connection closed")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _frame(self) -> tuple[dict[str, str], bytes]:
        head = self._read_until(b"\n\n").decode()
        headers = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        length = int(headers.get("Content-Length", "0"))
        while len(self._buffer) < length:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EslError("connection closed")
            self._buffer += chunk
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return headers, body

    def api(self, command: str) -> str:
        self._send(f"api {command}")
        while True:
            headers, body = self._frame()
            if headers.get("Content-Type") == "api/response":
                return body.decode()

    def channels(self) -> list[dict[str, Any]]:
        rows = json.loads(self.api("show channels as json")).get("rows")
        return rows or []

    def getvar(self, uuid: str, name: str) -> str | None:
        value = self.api(f"uuid_getvar {uuid} {name}").strip()
        return None if value in ("_undef_", "") or value.startswith("-ERR") else value

    def close(self) -> None:
        self._sock.close()
