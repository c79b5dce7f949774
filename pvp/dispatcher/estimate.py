"""Estimated wait shown on the kiosk: a rough figure from the queue's recent talk durations."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping


class WaitEstimator:
    """Mean handling time (talk + wrap-up) over the last calls of each queue.

    Deliberately simple: with a handful of counsellors per queue, the citizen needs an order
    of magnitude ("about 5 minutes"), not a queueing-theory figure, and the mean of recent
    calls follows a queue whose calls get longer or shorter.
    """

    def __init__(
        self,
        default_talk_seconds: float = 300.0,
        samples: int = 20,
        step_seconds: int = 60,
        history: Mapping[str, Iterable[float]] | None = None,
    ) -> None:
        self.default_talk = default_talk_seconds
        self.samples = samples
        self.step = step_seconds
        self._talks: dict[str, deque[float]] = {}
        for queue, talks in (history or {}).items():
            for seconds in talks:
                self.add(queue, seconds)

    def add(self, queue: str, talk_seconds: float) -> None:
        self._talks.setdefault(queue, deque(maxlen=self.samples)).append(max(0.0, talk_seconds))

    def mean_talk(self, queue: str) -> float:
        talks = self._talks.get(queue)
        return sum(talks) / len(talks) if talks else self.default_talk

    def estimate(self, queue: str, wrap_up: float, position: int, servers: int) -> int:
        """Seconds until the caller at ``position`` (1 = next) is likely answered.

        Each of ``servers`` present counsellors frees up once per handling time, so the
        caller at position p waits about ``p / servers`` handling times. Rounded up to
        ``step`` so the kiosk is not told a new figure every few seconds.
        """
        handle = self.mean_talk(queue) + wrap_up
        seconds = position * handle / max(1, servers)
        return int(math.ceil(seconds / self.step) * self.step)
