"""FreeSWITCH's ``chat`` API command, through which the control plane sends kiosks their
commands and queue news as SIP MESSAGE (sip/messages.md).

A switch alone sends the MESSAGE to the contacts the kiosk registered with it. Behind Kamailio
(setting ``sip_proxy``) it goes to Kamailio's address for the kiosk, ``sip:<kiosk>@<proxy>``,
and Kamailio delivers it wherever the kiosk registered: mod_sofia's ``chat`` does not follow
the Path of a registration Kamailio replicated to the switch (measured: "Error! Message Not
Sent", and nothing left the switch).

``chat`` splits its arguments on ``|`` and ends at a newline: a body or a name holding either
would be cut, so it is refused here rather than sent truncated.
"""

from __future__ import annotations

from pvp.common.errors import PvpError
from pvp.wire.identities import CONTROL_PLANE_USER

PROFILE = "pvp"  # the sofia profile of freeswitch/sip_profiles/pvp.xml


class ChatError(
    PvpError,
    ValueError,
    code="chat_unsendable",
    summary="message non transmissible (caractère | ou saut de ligne)",
):
    """What cannot travel in a ``chat`` command (``|`` or a line break)."""


def chat_command(
    kiosk: str,
    body: str,
    content_type: str,
    domain: str,
    sender: str = CONTROL_PLANE_USER,
    proxy: str = "",
) -> str:
    """``chat sip|<sender>@<domain>|<kiosk>@<domain>|<body>|<content type>``; behind a proxy
    the kiosk is reached as ``pvp/sip:<kiosk>@<proxy>``."""
    for part in (kiosk, body, content_type, domain, sender, proxy):
        if "|" in part or "\n" in part or "\r" in part:
            raise ChatError("chat cannot carry '|' or a line break")
    to = f"{PROFILE}/sip:{kiosk}@{proxy}" if proxy else f"{kiosk}@{domain}"
    return f"chat sip|{sender}@{domain}|{to}|{body}|{content_type}"
