"""The live tests' ESL client plus event subscriptions, in ESL's json format."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .esl import Esl


class EventReader(Esl):
    """One connection that only reads events (run ``api`` on another one)."""

    def subscribe(self, *names: str) -> None:
        self._send("event json " + " ".join(names))
        self._frame()

    def events(self) -> Iterator[dict[str, str]]:
        while True:
            headers, body = self._frame()
            if headers.get("Content-Type") == "text/event-json":
                yield json.loads(body)
