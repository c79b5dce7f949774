"""The console's short-lived SIP credential: issued to the signed-in counsellor, served as a
digest by the xml_curl directory (never the long-term secret), replaced by the next console,
revoked at sign-out and after expiry."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update

from pvp.config import Settings
from pvp.db import Database
from pvp.model import ConsoleCredential, Counsellor

CONSOLE_USER = "anpe-le-puy-c1_console"
REALM = "pvp.auvergne.local"


def served_digest(app: Flask, settings: Settings, user: str = CONSOLE_USER) -> str | None:
    """What FreeSWITCH's directory look-up gets for ``user``: its a1-hash, or None."""
    token = f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}"
    answer = app.test_client().post(
        "/freeswitch/directory",
        data={"section": "directory", "domain": REALM, "user": user, "action": "sip_auth"},
        headers={"Authorization": "Basic " + base64.b64encode(token.encode()).decode()},
    )
    assert answer.status_code == 200
    doc = ET.fromstring(answer.data)
    found = doc.find(f".//user[@id='{user}']")
    if found is None:
        return None
    assert found.get("cacheable") is None, "a revoked credential must not stay in a cache"
    param = found.find("params/param[@name='a1-hash']")
    assert param is not None
    variables = {v.get("name"): v.get("value") for v in found.iter("variable")}
    assert variables["pvp_counsellor"] == "anpe-le-puy-c1"
    assert variables["pvp_role"] == "counsellor"
    return param.get("value")


def digest(password: str) -> str:
    return hashlib.md5(f"{CONSOLE_USER}:{REALM}:{password}".encode()).hexdigest()  # noqa: S324


def issue(c: Any) -> dict[str, Any]:
    c.get("/console/")
    answer = c.http.post("/console/phone", headers={"X-CSRFToken": c.token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return dict(answer.get_json())


def test_the_console_gets_a_credential_the_directory_serves_until_sign_out(
    as_role: Any, app: Flask, settings: Settings, pdb: Database
) -> None:
    assert served_digest(app, settings) is None
    c = as_role("conseillere")
    phone = issue(c)
    assert phone["uri"] == f"sip:{CONSOLE_USER}@{REALM}"
    assert phone["authorization_user"] == CONSOLE_USER
    assert phone["wss_url"] == f"wss://{settings.sip_host}:{settings.sip_wss_port}"
    assert served_digest(app, settings) == digest(phone["password"])
    with pdb.sessions() as session:
        counsellor = session.get(Counsellor, "anpe-le-puy-c1")
        row = session.get(ConsoleCredential, "anpe-le-puy-c1")
        assert counsellor is not None and row is not None
        # Only the digest is kept, and it is not the softphone's long-term one.
        assert phone["password"] not in row.a1_hash and row.a1_hash != counsellor.a1_hash
    expires = datetime.fromisoformat(phone["expires_at"])
    assert timedelta(hours=7) < expires - datetime.now(UTC) <= timedelta(hours=8)

    again = issue(c)  # a reloaded console replaces the credential: the old one stops working
    assert again["password"] != phone["password"]
    assert served_digest(app, settings) == digest(again["password"])

    assert c.post("/logout").status_code == 302
    assert served_digest(app, settings) is None


def test_an_expired_credential_is_no_longer_served(
    as_role: Any, app: Flask, settings: Settings, pdb: Database
) -> None:
    issue(as_role("conseillere"))
    with pdb.session() as session:
        session.execute(
            update(ConsoleCredential).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert served_digest(app, settings) is None


def test_only_a_counsellor_with_the_page_token_gets_one(
    as_role: Any, app: Flask, settings: Settings
) -> None:
    manager = as_role("gestion-anpe")
    manager.get("/manager/")
    assert (
        manager.http.post("/console/phone", headers={"X-CSRFToken": manager.token}).status_code
        == 403
    )
    counsellor = as_role("conseillere")
    assert counsellor.http.post("/console/phone").status_code == 400  # no CSRF token
    assert as_role(None).http.post("/console/phone").status_code in (302, 400, 401)
    assert served_digest(app, settings) is None
