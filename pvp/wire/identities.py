"""Names the system itself answers to, never given to a counsellor, kiosk or panel account.

``pvp`` is the control plane's SIP user: kiosks answer it, and whoever registered as ``pvp``
would receive their answers. Service codes are what kiosks dial; ``kiosk-`` names belong to
kiosks (made from their site); ``cli`` is the audit log's actor for the command line.
"""

from __future__ import annotations

CONTROL_PLANE_USER = "pvp"
SERVICE_CODES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")
RESERVED = frozenset({CONTROL_PLANE_USER, "cli", "freeswitch", "anonymous", *SERVICE_CODES})
KIOSK_PREFIX = "kiosk-"


def reserved_reason(ident: str) -> str | None:
    """Why ``ident`` cannot name a counsellor or an account (French), or None if it can."""
    name = ident.strip().lower()
    if name in RESERVED:
        return f"l'identifiant {ident!r} est réservé au système"
    if name.startswith(KIOSK_PREFIX):
        return (
            f"identifiant réservé : les noms commençant par {KIOSK_PREFIX!r} sont ceux d'une borne"
        )
    return None
