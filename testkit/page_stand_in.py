"""A stand-in for the kiosk page's phone, speaking the page's HTTP protocol with the agent.

Used where the call itself cannot happen (no FreeSWITCH here): it reads the agent's commands
(server-sent events) with the token the agent wrote into the page, and reports call events
as the page would. The page's real phone (JsSIP in Chromium) is tested through FreeSWITCH in
tests/live/test_kiosk_page.py.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import requests


def page_token(base: str) -> str:
    """The token, read from the page as Chromium would receive it."""
    html = requests.get(f"{base}/", timeout=5).text
    found = re.search(r'<script type="application/json" id="phone-config">(.*?)</script>', html)
    assert found, "the page carries no phone configuration"
    return str(json.loads(found.group(1))["token"])


class PageStandIn:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = page_token(base)
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        port = urlsplit(base).port
        # The reader thread alone owns this connection, from open to close.
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._connection.request("GET", f"/phone/commands?token={self.token}")
        response = self._connection.getresponse()
        assert response.status == 200, response.status
        self._thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self._thread.start()

    def _read(self, response: http.client.HTTPResponse) -> None:
        try:
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data: "):
                    self.commands.put(json.loads(line[6:]))
        except OSError:
            pass
        finally:
            self._connection.close()

    def next_command(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.commands.get(timeout=timeout)

    def report(self, **event: Any) -> int:
        answer = requests.post(
            f"{self.base}/phone/report",
            json=event,
            headers={"X-PVP-Token": self.token},
            timeout=5,
        )
        return answer.status_code

    def close(self) -> None:
        """Once the agent ended the stream (its stop does)."""
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the agent did not end the page's command stream"
