"""FreeSWITCH's ``chat`` API command, through which the control plane sends kiosks their
commands and queue news as SIP MESSAGE (sip/messages.md).

``chat`` splits its arguments on ``|`` and ends at a newline: a body or a name holding either
would be cut, so it is refused here rather than sent truncated.
"""

from __future__ import annotations

from pvp.wire.identities import CONTROL_PLANE_USER


class ChatError(ValueError):
    """What cannot travel in a ``chat`` command (``|`` or a line break)."""


def chat_command(
    kiosk: str, body: str, content_type: str, domain: str, sender: str = CONTROL_PLANE_USER
) -> str:
    """``chat sip|<sender>@<domain>|<kiosk>@<domain>|<body>|<content type>``."""
    for part in (kiosk, body, content_type, domain, sender):
        if "|" in part or "\n" in part or "\r" in part:
            raise ChatError("chat cannot carry '|' or a line break")
    return f"chat sip|{sender}@{domain}|{kiosk}@{domain}|{body}|{content_type}"
