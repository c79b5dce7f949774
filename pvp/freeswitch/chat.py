"""FreeSWITCH's ``chat`` API command to a device: at its registration, or through Kamailio.

A switch alone sends the MESSAGE to the contacts the device registered with it. Behind
Kamailio (setting ``sip_proxy``) it goes to Kamailio's address for the device,
``sip:<user>@<proxy>``, and Kamailio delivers it wherever the device registered: mod_sofia's
``chat`` does not follow the Path of a registration Kamailio replicated to the switch
(measured: "Error! Message Not Sent", and nothing left the switch).
"""

from __future__ import annotations

PROFILE = "pvp"  # the sofia profile of freeswitch/sip_profiles/pvp.xml


def chat_command(
    sender: str, user: str, domain: str, body: str, content_type: str, proxy: str = ""
) -> str:
    """``chat sip|from|to|body|type`` (``body`` and the names must hold no ``|``)."""
    to = f"{PROFILE}/sip:{user}@{proxy}" if proxy else f"{user}@{domain}"
    return f"chat sip|{sender}@{domain}|{to}|{body}|{content_type}"
