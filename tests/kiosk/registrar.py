"""The smallest SIP peers a test needs: a registrar (UDP, no auth) and a canned answer.

They stand in for FreeSWITCH, which is not packaged for this machine; the live FreeSWITCH
suites cover digest authentication and TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

_COPIED = ("via", "from", "call-id", "cseq")


def headers_of(request: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The request line and the (name, value) headers of a SIP request."""
    lines = request.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
    pairs = [line.split(":", 1) for line in lines[1:] if ":" in line]
    return lines[0], [(name.strip(), value.strip()) for name, value in pairs]


def sip_response(request: bytes, status: str, *, expires: int | None = None) -> bytes:
    """A response to ``request``; with ``expires``, its Contact is echoed (REGISTER)."""
    _, headers = headers_of(request)
    lines = [f"SIP/2.0 {status}"]
    for name, value in headers:
        key = name.lower()
        if key in _COPIED:
            lines.append(f"{name}: {value}")
        elif key == "to":
            lines.append(f"{name}: {value};tag=pvptest")
        elif key == "contact" and expires is not None:
            lines.append(f"{name}: {value};expires={expires}")
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


@dataclass
class Registrar(asyncio.DatagramProtocol):
    status: str = "200 OK"  # "403 Forbidden" to refuse everyone
    expires: int = 60
    registers: list[str] = field(default_factory=list)  # the To (AOR) of each REGISTER
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request_line, headers = headers_of(data)
        if not request_line.startswith("REGISTER ") or self.transport is None:
            return
        self.registers.append(next((v for k, v in headers if k.lower() == "to"), ""))
        ok = self.status.startswith("2")
        self.transport.sendto(
            sip_response(data, self.status, expires=self.expires if ok else None), addr
        )


@contextlib.asynccontextmanager
async def running_registrar(status: str = "200 OK") -> AsyncIterator[Registrar]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Registrar(status=status), local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol
    finally:
        transport.close()
