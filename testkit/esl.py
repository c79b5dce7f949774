"""The tests' questions to FreeSWITCH over the Event Socket, through the product's own client.

:class:`pvp.freeswitch.esl.ESLClient` does the connection, the authentication and the
framing; this adds what the tests ask (``show channels``, ``uuid_getvar``) and a blocking
start, so that a switch not answering yet raises :class:`OSError` as a refused connection
would. Answers are returned as FreeSWITCH gave them, ``-ERR`` included: a test looks at them.
"""

from __future__ import annotations

import json
from typing import Any

from pvp.freeswitch.esl import Backoff, ESLClient


class Esl:
    def __init__(self, host: str, port: int, password: str, timeout: float = 10) -> None:
        # Short reconnection delays: the live harness polls a switch that is starting.
        self.client = ESLClient(host, port, password, backoff=Backoff(0.05, 0.5), timeout=timeout)
        self.client.start()
        if not self.client.wait_connected(timeout):
            self.client.stop()
            raise ConnectionError(f"no Event Socket at {host}:{port} in {timeout} s")

    def api(self, command: str) -> str:
        return self.client.send(f"api {command}").text

    def channels(self) -> list[dict[str, Any]]:
        rows = json.loads(self.api("show channels as json")).get("rows")
        return rows or []

    def getvar(self, uuid: str, name: str) -> str | None:
        value = self.api(f"uuid_getvar {uuid} {name}").strip()
        return None if value in ("_undef_", "") or value.startswith("-ERR") else value

    def close(self) -> None:
        self.client.stop()
