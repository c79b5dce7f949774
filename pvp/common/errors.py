"""The one base of the errors PVP raises on purpose: a stable code for machines, French for people.

Every error class names its code where it is declared (``class PlanError(PvpError, ValueError,
code="plan_refused")``), so a class without one cannot exist. ``str(error)`` stays what the raiser
wrote: French where people read it (a refusal), English where only logs do (a switch frame); such
classes also declare a French ``summary`` and ``message`` returns it. This module imports nothing
from pvp: both the control plane and the kiosk agent build on it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class PvpError(Exception):
    """An error PVP raises on purpose; ``code`` is stable snake_case, ``message`` French."""

    code: str = "pvp_error"
    #: French text for people when ``str()`` is written for logs (English); None: ``str()`` is.
    summary: ClassVar[str | None] = None

    def __init_subclass__(cls, *, code: str, summary: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _CODE.match(code):
            raise TypeError(f"{cls.__name__}: error code {code!r} is not snake_case")
        cls.code = code
        if summary is not None:
            cls.summary = summary

    @property
    def message(self) -> str:
        """What a person is shown: the French summary, or the French text the raiser wrote."""
        return self.summary if self.summary is not None else str(self)

    def shown(self) -> str:
        """One line for a person: the French message, then the code clients match on."""
        return f"{self.message} [{self.code}]"


class Refused(PvpError, code="refused"):
    """A request understood and refused before anything changed; ``status`` is the HTTP status."""

    def __init__(self, reason: str, status: int = 400, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        if code is not None:  # the code of the error refused on, when there was one
            self.code = code
