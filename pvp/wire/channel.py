"""The channel variables the switch carries for PVP: written by the directory (who calls) and
the dialplan (what was decided), read by the dispatcher and the xml_curl handlers.

One name per variable here, so writer and reader cannot drift apart; a value the reader does
not know is refused (:class:`ChannelValueError`), never read as a default.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from pvp.common.errors import PvpError


class Var(enum.StrEnum):
    # Set by the directory on the caller's channel: who is calling.
    ROLE = "pvp_role"
    KIOSK = "pvp_kiosk"
    SITE = "pvp_site"
    COUNSELLOR = "pvp_counsellor"  # also the counsellor an appointment or an offer is for
    AGENCY = "pvp_agency"
    # Set by the dialplan: the routing decision.
    DECISION = "pvp_decision"
    SERVICE = "pvp_service"
    ROUTED_BY = "pvp_routed_by"
    QUEUE = "pvp_queue"
    MODE = "pvp_mode"
    APPOINTMENT = "pvp_appointment"
    OPEN_UNTIL = "pvp_open_until"
    WAIT_MEDIA = "pvp_wait_media"
    REASON = "pvp_reason"
    NEXT_OPENING = "pvp_next_opening"
    DETAIL = "pvp_detail"
    # Set by the dispatcher: an offer leg's caller, a call's outcome.
    OFFER_FOR = "pvp_offer_for"
    OUTCOME = "pvp_outcome"


class Role(enum.StrEnum):
    """``pvp_role``: what the directory knows the caller to be."""

    KIOSK = "kiosk"
    COUNSELLOR = "counsellor"
    NONE = "none"  # the directory's decoy for an unknown user


class RoutedBy(enum.StrEnum):
    """``pvp_routed_by``: who decided, the control plane or the static fallback dialplan."""

    CONTROL_PLANE = "control-plane"
    STATIC = "static"


class ChannelValueError(
    PvpError,
    ValueError,
    code="bad_channel_variable",
    summary="variable d'appel inconnue du répartiteur",
):
    """A channel variable holds a value its reader does not know (dialplan and dispatcher
    disagree: a deployment half upgraded, a hand-edited dialplan)."""


E = TypeVar("E", bound=enum.Enum)


def parse(kind: type[E], var: Var, value: str) -> E:
    """``value`` of ``var`` as a member of ``kind``; an empty or unknown value is refused."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(member.value) for member in kind)
        raise ChannelValueError(f"{var}={value!r}: not one of {known}") from None
