"""The SIP directory: every kiosk and counsellor as a FreeSWITCH ``<user>``.

The same builder serves mod_xml_curl (one user per request) and the static fallback file
(every user). A user carries its digest ``a1-hash`` (never a plain secret) and the variables
that tell the dialplan and the ESL side who is calling: ``pvp_role``, ``pvp_kiosk`` /
``pvp_site`` or ``pvp_counsellor`` / ``pvp_agency``, and the ``user_context`` its calls
enter.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvp.config import Settings
from pvp.freeswitch.console_users import SUFFIX, sip_user
from pvp.freeswitch.xmldoc import params
from pvp.model import Counsellor, Kiosk
from pvp.wire.channel import Role, Var

KIOSK_CONTEXT = "pvp-kiosks"
COUNSELLOR_CONTEXT = "pvp-counsellors"

# sofia_contact finds the registration on any profile; the braces set per-leg variables.
DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}"
    ":rtp_secure_media=%s}${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)
# A counsellor rings on their softphone and on their browser console, whichever is registered
# (an unregistered one is an ``error/`` leg that fails at once, as in FreeSWITCH's own default).
COUNSELLOR_DIAL_STRING = (
    DIAL_STRING + ",${sofia_contact(*/${dialed_user}" + SUFFIX + "@${dialed_domain})}"
)


def display(text: str) -> str:
    """A name shown as caller id: letters, digits, spaces and ' - . only (no ``$``, ``{``)."""
    return re.sub(r"[^\w '\-.]", "", text)[:80]


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    a1_hash: str
    variables: dict[str, str]
    srtp: str  # rtp_secure_media for every leg to or from this user
    dial_string: str = DIAL_STRING  # with one %s: the srtp value

    def element(self, cache_ms: int) -> ET.Element:
        attrs = {"id": self.id}
        if cache_ms > 0:
            attrs["cacheable"] = str(cache_ms)
        user = ET.Element("user", attrs)
        dial = self.dial_string % self.srtp
        params(user, "param", {"a1-hash": self.a1_hash, "dial-string": dial})
        params(user, "variable", {**self.variables, "rtp_secure_media": self.srtp})
        return user


def kiosk_user(kiosk: Kiosk, settings: Settings) -> DirectoryUser:
    return DirectoryUser(
        id=kiosk.id,
        a1_hash=kiosk.a1_hash,
        srtp=settings.kiosk_srtp,
        variables={
            "user_context": KIOSK_CONTEXT,
            Var.ROLE: Role.KIOSK,
            Var.KIOSK: kiosk.id,
            Var.SITE: kiosk.site_id,
            "effective_caller_id_name": display(f"PVP {kiosk.site.commune}"),
            "effective_caller_id_number": kiosk.id,
            # The static dialplan's time conditions read the deployment's wall clock.
            "timezone": settings.timezone,
        },
    )


def counsellor_user(counsellor: Counsellor, settings: Settings) -> DirectoryUser:
    return DirectoryUser(
        id=counsellor.id,
        a1_hash=counsellor.a1_hash,
        srtp=settings.counsellor_srtp,
        dial_string=COUNSELLOR_DIAL_STRING,
        variables=_counsellor_variables(counsellor, settings),
    )


# A user id FreeSWITCH may ask about during authentication; anything else is not answered.
DECOY_ID = re.compile(r"^[A-Za-z0-9._+\-]{1,64}$")


def decoy_user(user_id: str, settings: Settings) -> DirectoryUser:
    """What authentication of an unknown user meets: a user nobody can log in as.

    Answering "not found" sent FreeSWITCH through the static files and a different reply:
    unknown users were told apart by timing (3.1–7.7 ms against 1.1–2.7 ms) and by the
    answer. The decoy takes the known users' path. Its a1-hash is keyed on a secret, so it
    is the same on every look-up (as a real user's is) and nobody can compute it.
    """
    key = settings.secret("directory_decoy_key").encode()
    a1 = hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:32]
    variables = {"user_context": "pvp-unauthenticated", Var.ROLE: Role.NONE}
    return DirectoryUser(user_id, a1, variables, srtp="mandatory")


def console_user(counsellor: Counsellor, a1: str, settings: Settings) -> DirectoryUser:
    """The counsellor's browser console (see :mod:`pvp.freeswitch.console_users`): the same
    caller identity and context as their softphone, its own short-lived digest."""
    return DirectoryUser(
        id=sip_user(counsellor.id),
        a1_hash=a1,
        srtp=settings.counsellor_srtp,
        variables=_counsellor_variables(counsellor, settings),
    )


def _counsellor_variables(counsellor: Counsellor, settings: Settings) -> dict[str, str]:
    return {
        "user_context": COUNSELLOR_CONTEXT,
        Var.ROLE: Role.COUNSELLOR,
        Var.COUNSELLOR: counsellor.id,
        Var.AGENCY: counsellor.agency_id,
        "effective_caller_id_name": display(counsellor.display_name),
        "effective_caller_id_number": counsellor.id,
        "timezone": settings.timezone,
    }


def all_users(session: Session, settings: Settings) -> list[DirectoryUser]:
    kiosks = session.scalars(select(Kiosk).options(selectinload(Kiosk.site)).order_by(Kiosk.id))
    counsellors = session.scalars(select(Counsellor).order_by(Counsellor.id))
    return [kiosk_user(k, settings) for k in kiosks] + [
        counsellor_user(c, settings) for c in counsellors
    ]


def domain_element(settings: Settings, users: Iterable[DirectoryUser], cache_ms: int) -> ET.Element:
    """``<domain>`` holding ``users``; an empty one is an authoritative "no such user"."""
    domain = ET.Element("domain", name=settings.sip_domain)
    params(domain, "param", {"dial-string": DIAL_STRING % "optional"})
    params(domain, "variable", {})
    group = ET.SubElement(ET.SubElement(domain, "groups"), "group", name="pvp")
    holder = ET.SubElement(group, "users")
    holder.extend(u.element(cache_ms) for u in users)
    return domain
