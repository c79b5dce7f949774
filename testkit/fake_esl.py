"""A tiny Event Socket server speaking the real wire format, for the client's unit tests.

Only the protocol is faked (auth, replies, background jobs, events); the live suite in
tests/live runs the same client against a real FreeSWITCH.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any


def frame(content_type: str, body: str = "", **headers: str) -> bytes:
    lines = [f"Content-Type: {content_type}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    data = body.encode()
    if data:
        lines.append(f"Content-Length: {len(data)}")
    return ("\n".join(lines) + "\n\n").encode() + data


class FakeSwitch:
    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._closed = False
        self.commands: list[str] = []
        self.api_delay = threading.Event()
        self.api_delay.set()
        # Scripted behaviour: api answers by command prefix; a bgapi hook that may send
        # events before the job's result, and returns that result.
        self.api_answers: dict[str, str] = {}
        self.bgapi_hook: Callable[[str], str] | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self._closed:  # accepted while closing: nobody would ever close it
                conn.close()
                return
            self.clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            conn.sendall(frame("auth/request"))
            while True:
                while b"\n\n" not in buffer:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buffer += data
                block, buffer = buffer.split(b"\n\n", 1)
                self._command(conn, block.decode())
        except OSError:
            return
        finally:
            conn.close()  # the client left (or was dropped): no socket outlives its talk

    def _command(self, conn: socket.socket, block: str) -> None:
        first, *rest = block.split("\n")
        headers = dict(line.split(": ", 1) for line in rest)
        self.commands.append(first)
        if first.startswith("auth "):
            ok = first[5:] == self.password
            conn.sendall(
                frame("command/reply", Reply_Text="+OK accepted" if ok else "-ERR invalid")
            )
            if not ok:
                conn.close()
        elif first.startswith("event "):
            conn.sendall(frame("command/reply", Reply_Text="+OK event listener enabled json"))
        elif first.startswith("api "):
            self.api_delay.wait()
            command = first[4:]
            body = "-ERR no such command\n" if command == "fail" else f"reply to {command}\n"
            for prefix, answer in self.api_answers.items():
                if command.startswith(prefix):
                    body = answer
            conn.sendall(frame("api/response", body))
        elif first.startswith("bgapi "):
            job = headers["Job-UUID"]
            conn.sendall(frame("command/reply", Reply_Text=f"+OK Job-UUID: {job}", Job_UUID=job))
            result = f"+OK {first[6:]}\n"
            if self.bgapi_hook is not None:
                result = self.bgapi_hook(first[6:])
            self.send_event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job, "_body": result})

    def send_event(self, event: dict[str, Any]) -> None:
        body = json.dumps(event)
        for conn in list(self.clients):
            try:
                conn.sendall(frame("text/event-json", body))
            except OSError:
                self.clients.remove(conn)

    def drop_clients(self) -> None:
        """What a FreeSWITCH restart looks like to the client: the socket closes."""
        for conn in self.clients:
            try:
                conn.sendall(frame("text/disconnect-notice", "Disconnected, goodbye.\n"))
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self.clients.clear()

    def close(self) -> None:
        self._closed = True
        self.server.close()
        self.drop_clients()
