"""What the dialplan does with a press: a routing outcome as FreeSWITCH actions.

Shared by the live mod_xml_curl answer (from :func:`pvp.routing.decide`) and the static
fallback (from the plan's windows as time conditions), so both speak the same contract,
documented in ``sip/README.md``:

- refused (closed, appointment required, no such service): nobody is called, the INVITE is
  answered ``480`` (``404`` for no such service) with ``X-PVP-*`` headers and a reason phrase
  the kiosk can read;
- queued (walk-in, appointment): ``pvp_*`` variables set, answered, parked for the dispatcher.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from pvp.calendar import Mode
from pvp.config import Settings
from pvp.freeswitch.directory import KIOSK_CONTEXT
from pvp.freeswitch.xmldoc import document
from pvp.routing import Decision, DecisionKind
from pvp.wire.channel import RoutedBy, Var

SERVICE_CODES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")
QUEUED = frozenset({DecisionKind.WALK_IN, DecisionKind.APPOINTMENT})
# Beyond the queue's own maximum wait, FreeSWITCH ends a wait nobody took over.
PARK_GRACE_SECONDS = 120
DEFAULT_MAX_WAIT_SECONDS = 900

Action = tuple[str, str]

PHRASES = {
    DecisionKind.CLOSED: "Closed",
    DecisionKind.APPOINTMENT_REQUIRED: "Appointment required",
    DecisionKind.NO_SUCH_SERVICE: "No such service",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A routing outcome reduced to what the switch needs; times are ISO 8601 text."""

    decision: DecisionKind
    service: str
    queue: str | None = None
    counsellor: str | None = None
    appointment: int | None = None
    reason: str | None = None
    detail: str | None = None
    next_opening: str | None = None
    open_until: str | None = None
    retry_after: int | None = None  # seconds until next_opening, when known
    max_wait: int | None = None  # the queue's maximum wait, seconds

    @classmethod
    def from_decision(
        cls, decision: Decision, now: datetime, max_wait: int | None = None
    ) -> Outcome:
        nxt = decision.next_opening
        return cls(
            decision=decision.decision,
            service=decision.service,
            queue=decision.queue,
            counsellor=decision.counsellor,
            appointment=decision.appointment,
            reason=decision.reason.value if decision.reason else None,
            detail=decision.detail,
            next_opening=nxt.isoformat() if nxt else None,
            open_until=decision.open_until.isoformat() if decision.open_until else None,
            retry_after=max(0, int((nxt - now).total_seconds())) if nxt else None,
            max_wait=max_wait,
        )


def _set(name: str, value: str) -> Action:
    return ("set", f"{name}={value}")


def safe_text(value: str) -> str:
    """Free text (a holiday's or closure's name) made inert for FreeSWITCH and SIP.

    Percent-encoding leaves no ``$``, ``{``, ``|``, quote or line break: nothing the
    dialplan would expand or a header would split on.
    """
    return quote(value, safe=" '-_.,()/:")


def reason_phrase(outcome: Outcome) -> str:
    parts = [PHRASES[outcome.decision]]
    if outcome.reason:
        parts.append(f"reason={outcome.reason}")
    if outcome.next_opening:
        parts.append(f"next={outcome.next_opening}")
    return "; ".join(parts)


def actions(outcome: Outcome, settings: Settings, routed_by: RoutedBy) -> list[Action]:
    """The dialplan actions for ``outcome``, decided by the control plane or the static fallback."""
    acts = [
        _set(Var.DECISION, outcome.decision.value),
        _set(Var.SERVICE, outcome.service),
        _set(Var.ROUTED_BY, routed_by),
    ]
    if outcome.queue:
        acts.append(_set(Var.QUEUE, outcome.queue))
    if outcome.decision in QUEUED:
        mode = Mode.APPOINTMENT if outcome.decision is DecisionKind.APPOINTMENT else Mode.WALK_IN
        acts.append(_set(Var.MODE, mode))
        if outcome.counsellor:
            acts.append(_set(Var.COUNSELLOR, outcome.counsellor))
        if outcome.appointment is not None:
            acts.append(_set(Var.APPOINTMENT, str(outcome.appointment)))
        if outcome.open_until:
            acts.append(_set(Var.OPEN_UNTIL, outcome.open_until))
        max_wait = outcome.max_wait or DEFAULT_MAX_WAIT_SECONDS
        acts += [
            _set(Var.WAIT_MEDIA, settings.wait_media),
            # A safety net only: the dispatcher ends the wait at the queue's maximum.
            _set("park_timeout", f"{max_wait + PARK_GRACE_SECONDS}:ALLOTTED_TIMEOUT"),
            ("answer", ""),
            ("park", ""),
        ]
        return acts
    headers = {"X-PVP-Decision": outcome.decision.value}
    if outcome.reason:
        acts.append(_set(Var.REASON, outcome.reason))
        headers["X-PVP-Reason"] = outcome.reason
    if outcome.next_opening:
        acts.append(_set(Var.NEXT_OPENING, outcome.next_opening))
        headers["X-PVP-Next-Opening"] = outcome.next_opening
    if outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
    if outcome.detail:
        acts.append(_set(Var.DETAIL, safe_text(outcome.detail)))
        headers["X-PVP-Detail"] = safe_text(outcome.detail)
    acts += [_set(f"sip_rh_{name}", value) for name, value in headers.items()]
    code = 404 if outcome.decision is DecisionKind.NO_SUCH_SERVICE else 480
    acts.append(("respond", f"{code} {reason_phrase(outcome)}"))
    return acts


def add_actions(condition: ET.Element, acts: list[Action]) -> None:
    for application, data in acts:
        attrs = {"application": application}
        if data:
            attrs["data"] = data
        ET.SubElement(condition, "action", attrs)


def kiosk_answer(outcome: Outcome, settings: Settings) -> ET.Element:
    """The mod_xml_curl answer for one press: one context, one extension."""
    root, section = document("dialplan")
    context = ET.SubElement(section, "context", name=KIOSK_CONTEXT)
    extension = ET.SubElement(context, "extension", name=f"pvp-{outcome.decision.value}")
    condition = ET.SubElement(
        extension, "condition", field="destination_number", expression=f"^{outcome.service}$"
    )
    add_actions(condition, actions(outcome, settings, RoutedBy.CONTROL_PLANE))
    return root
