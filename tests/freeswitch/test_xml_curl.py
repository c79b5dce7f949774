"""The mod_xml_curl handlers, through Flask's test client, on the 2006 plan."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pvp import appointments
from pvp.clock import ShiftedClock
from pvp.config import Settings
from pvp.db import Database
from pvp.model import Kiosk
from pvp.plan_view import load_routing_plan
from pvp.web.app import create_app

PARIS = ZoneInfo("Europe/Paris")
FOURTH_FRIDAY = datetime(2006, 11, 24, 10, 0, tzinfo=PARIS)  # Vorey: MSA permanence


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock(FOURTH_FRIDAY)


@pytest.fixture
def app(settings: Settings, db: Database, clock: ShiftedClock) -> Flask:
    return create_app(settings, db, {"TESTING": True}, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth(settings: Settings) -> dict[str, str]:
    token = f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def post(client: FlaskClient, auth: dict[str, str], path: str, **form: str) -> ET.Element:
    response = client.post(f"/freeswitch/{path}", data=form, headers=auth)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def is_not_found(doc: ET.Element) -> bool:
    result = doc.find("section[@name='result']/result")
    return result is not None and result.get("status") == "not found"


def directory(client: FlaskClient, auth: dict[str, str], user: str, **extra: str) -> ET.Element:
    form = {
        "section": "directory",
        "tag_name": "domain",
        "key_name": "name",
        "key_value": "pvp.auvergne.local",
        "domain": "pvp.auvergne.local",
        "user": user,
        "action": "sip_auth",
        **extra,
    }
    return post(client, auth, "directory", **form)


def press(
    client: FlaskClient, auth: dict[str, str], kiosk: str, service: str, **extra: str
) -> ET.Element:
    form = {
        "section": "dialplan",
        "Caller-Context": "pvp-kiosks",
        "Hunt-Destination-Number": service,
        "Caller-Destination-Number": service,
        "variable_pvp_role": "kiosk",
        "variable_pvp_kiosk": kiosk,
        "variable_user_name": kiosk,
        **extra,
    }
    return post(client, auth, "dialplan", **form)


def actions(doc: ET.Element) -> list[tuple[str, str]]:
    context = doc.find("section[@name='dialplan']/context[@name='pvp-kiosks']")
    assert context is not None, ET.tostring(doc)
    return [(a.get("application", ""), a.get("data", "")) for a in context.iter("action")]


def variables(acts: list[tuple[str, str]]) -> dict[str, str]:
    return dict(data.split("=", 1) for app, data in acts if app == "set")


@pytest.mark.parametrize("path", ["directory", "dialplan"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"freeswitch:wrong").decode()}],
    ids=["anonymous", "wrong-password"],
)
def test_given_no_valid_credentials_when_freeswitch_asks_then_401(
    client: FlaskClient, path: str, headers: dict[str, str]
) -> None:
    response = client.post(f"/freeswitch/{path}", data={"section": path}, headers=headers)
    assert response.status_code == 401
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_directory_gives_a_kiosk_its_a1_hash_and_identity(
    client: FlaskClient, auth: dict[str, str], db: Database
) -> None:
    doc = directory(client, auth, "kiosk-vorey-1")
    user = doc.find(".//domain[@name='pvp.auvergne.local']//user[@id='kiosk-vorey-1']")
    assert user is not None
    with db.sessions() as session:
        kiosk = session.get(Kiosk, "kiosk-vorey-1")
        assert kiosk is not None
        a1 = kiosk.a1_hash
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    assert params["a1-hash"] == a1
    assert "rtp_secure_media=mandatory" in params["dial-string"]
    assert int(user.get("cacheable", "0")) > 0
    found = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert found["pvp_role"] == "kiosk"
    assert found["pvp_kiosk"] == "kiosk-vorey-1"
    assert found["pvp_site"] == "vorey"
    assert found["user_context"] == "pvp-kiosks"
    assert found["timezone"] == "Europe/Paris"


def test_directory_gives_a_counsellor_its_role_and_context(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    doc = directory(client, auth, "msa-43-c1", action="user_call")
    user = doc.find(".//user[@id='msa-43-c1']")
    assert user is not None
    found = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert found["pvp_role"] == "counsellor"
    assert found["pvp_counsellor"] == "msa-43-c1"
    assert found["pvp_agency"] == "msa-43"
    assert found["user_context"] == "pvp-counsellors"
    # Offered calls ring on the softphone and on the browser console, whichever is registered.
    dial = {p.get("name"): p.get("value") for p in user.iter("param")}["dial-string"]
    assert dial.endswith(
        "${sofia_contact(*/${dialed_user}@${dialed_domain})},"
        "${sofia_contact(*/${dialed_user}_console@${dialed_domain})}"
    )


def test_a_console_user_without_a_credential_is_not_found(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    assert is_not_found(directory(client, auth, "msa-43-c1_console"))
    # No counsellor's console: an unknown user, met by the decoy nobody can sign in as.
    nobody = directory(client, auth, "_console").find(".//user")
    assert nobody is not None
    assert nobody.find(".//variable[@name='user_context']").get("value") == "pvp-unauthenticated"


def test_an_unknown_user_is_not_found(client: FlaskClient, auth: dict[str, str]) -> None:
    # FreeSWITCH then reads the static directory, rendered again on every plan change.
    assert is_not_found(directory(client, auth, "kiosk-nowhere-1", action="user_call"))


def test_authenticating_an_unknown_user_meets_a_decoy_shaped_like_a_real_user(
    client: FlaskClient, auth: dict[str, str], db: Database
) -> None:
    # Issue 15 item 5 / issue 10: "not found" took FreeSWITCH another path (static files),
    # 3.1-7.7 ms against 1.1-2.7 ms: users could be enumerated by timing.
    known = directory(client, auth, "kiosk-vorey-1").find(".//user")
    decoy = directory(client, auth, "kiosk-nowhere-1").find(".//user")
    assert known is not None and decoy is not None
    assert decoy.get("id") == "kiosk-nowhere-1"
    assert decoy.get("cacheable") == known.get("cacheable")
    a1 = {p.get("name"): p.get("value") for p in decoy.iter("param")}["a1-hash"]
    assert len(a1) == 32 and int(a1, 16) >= 0
    again = directory(client, auth, "kiosk-nowhere-1").find(".//user/params/param")
    assert again is not None and again.get("value") == a1  # the same every time
    with db.sessions() as session:
        hashes = {k.a1_hash for k in session.query(Kiosk)}
    assert a1 not in hashes
    found = {v.get("name"): v.get("value") for v in decoy.iter("variable")}
    assert found["user_context"] == "pvp-unauthenticated"


@pytest.mark.parametrize(
    "form",
    [
        {"section": "directory", "domain": "evil.example", "user": "kiosk-vorey-1"},
        {"section": "configuration", "domain": "pvp.auvergne.local"},
        {"section": "directory", "domain": "pvp.auvergne.local", "purpose": "gateways"},
        {"section": "directory", "domain": "pvp.auvergne.local", "user": "x", "action": "zap"},
        {},
    ],
    ids=["foreign-domain", "wrong-section", "gateways", "unknown-action", "empty"],
)
def test_directory_answers_not_found_to_anything_else(
    client: FlaskClient, auth: dict[str, str], form: dict[str, str]
) -> None:
    assert is_not_found(post(client, auth, "directory", **form))


def test_a_press_in_a_walk_in_window_is_answered_and_parked_for_its_queue(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    acts = actions(press(client, auth, "kiosk-vorey-1", "msa"))
    found = variables(acts)
    assert found["pvp_decision"] == "walk_in"
    assert found["pvp_mode"] == "walk_in"
    assert found["pvp_queue"] == "msa-43"
    assert found["pvp_service"] == "msa"
    assert found["pvp_open_until"] == "2006-11-24T12:00:00+01:00"
    assert found["park_timeout"].startswith(str(1200 + 120))  # the queue's max wait + grace
    assert [a for a, _ in acts][-2:] == ["answer", "park"]
    assert not any(a == "respond" for a, _ in acts)


def test_outside_the_windows_the_kiosk_gets_the_reason_and_next_opening(
    client: FlaskClient, auth: dict[str, str], clock: ShiftedClock
) -> None:
    clock.travel_to(datetime(2006, 11, 24, 14, 0, tzinfo=PARIS))
    acts = actions(press(client, auth, "kiosk-vorey-1", "msa"))
    found = variables(acts)
    assert found["pvp_decision"] == "closed"
    assert found["pvp_reason"] == "outside_windows"
    assert found["pvp_next_opening"] == "2006-12-22T09:00:00+01:00"
    assert found["sip_rh_X-PVP-Reason"] == "outside_windows"
    assert found["sip_rh_X-PVP-Next-Opening"] == "2006-12-22T09:00:00+01:00"
    assert 0 < int(found["sip_rh_Retry-After"]) <= 28 * 86400
    assert acts[-1] == (
        "respond",
        "480 Closed; reason=outside_windows; next=2006-12-22T09:00:00+01:00",
    )
    assert not any(a in ("answer", "park", "bridge") for a, _ in acts)


def test_on_a_public_holiday_the_press_is_refused_with_its_name(
    client: FlaskClient, auth: dict[str, str], clock: ShiftedClock
) -> None:
    clock.travel_to(datetime(2009, 12, 25, 10, 0, tzinfo=PARIS))  # a 4th Friday, and Noël
    found = variables(actions(press(client, auth, "kiosk-vorey-1", "msa")))
    assert found["pvp_reason"] == "public_holiday"
    assert found["pvp_detail"] == "No%C3%ABl"
    assert found["pvp_next_opening"] == "2010-01-22T09:00:00+01:00"


def test_a_booked_citizen_goes_to_their_counsellor(
    client: FlaskClient,
    auth: dict[str, str],
    clock: ShiftedClock,
    db: Database,
    settings: Settings,
) -> None:
    start = datetime(2006, 11, 8, 10, 0, tzinfo=PARIS)  # Wednesday: ANPE appointments
    with db.session() as session:
        plan = load_routing_plan(session, settings)
        booked = appointments.book(
            session, plan, appointments.Booking("vorey", "anpe", "anpe-le-puy-c2", start)
        )
        ident = booked.id
    clock.travel_to(datetime(2006, 11, 8, 9, 52, tzinfo=PARIS))
    acts = actions(press(client, auth, "kiosk-vorey-1", "anpe"))
    found = variables(acts)
    assert found["pvp_decision"] == "appointment"
    assert found["pvp_mode"] == "appointment"
    assert found["pvp_counsellor"] == "anpe-le-puy-c2"
    assert found["pvp_appointment"] == str(ident)
    assert found["pvp_queue"] == "anpe-le-puy"
    assert [a for a, _ in acts][-2:] == ["answer", "park"]


def test_an_appointment_window_without_booking_asks_for_an_appointment(
    client: FlaskClient, auth: dict[str, str], clock: ShiftedClock
) -> None:
    clock.travel_to(datetime(2006, 11, 8, 10, 40, tzinfo=PARIS))
    acts = actions(press(client, auth, "kiosk-vorey-1", "anpe"))
    assert variables(acts)["pvp_reason"] == "appointment_only"
    assert acts[-1][1].startswith("480 Appointment required; reason=appointment_only; next=")


def test_a_service_without_a_button_is_refused_404(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    acts = actions(press(client, auth, "kiosk-vorey-1", "caf"))
    assert variables(acts)["pvp_reason"] == "no_button"
    assert acts[-1] == ("respond", "404 No such service; reason=no_button")


@pytest.mark.parametrize(
    ("kiosk", "service", "extra"),
    [
        ("kiosk-vorey-1", "pizza", {}),
        ("kiosk-nowhere-1", "msa", {}),
        ("kiosk-vorey-1", "msa", {"variable_user_name": "kiosk-cunlhat-1"}),
        ("kiosk-vorey-1", "msa", {"variable_pvp_role": "counsellor"}),
        ("kiosk-vorey-1", "msa", {"Caller-Context": "pvp-counsellors"}),
        ("kiosk-vorey-1", "msa", {"section": "directory"}),
    ],
    ids=[
        "unknown-code",
        "unknown-kiosk",
        "identity-mismatch",
        "not-a-kiosk",
        "counsellor-context",
        "wrong-section",
    ],
)
def test_dialplan_answers_not_found_to_anything_unknown(
    client: FlaskClient, auth: dict[str, str], kiosk: str, service: str, extra: dict[str, str]
) -> None:
    assert is_not_found(press(client, auth, kiosk, service, **extra))


def test_untrusted_text_is_escaped_by_the_xml_library(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.post(
        "/freeswitch/dialplan",
        data={
            "section": "dialplan",
            "Caller-Context": "pvp-kiosks",
            "Hunt-Destination-Number": '"/><action application="bridge"/>',
            "variable_pvp_role": "kiosk",
            "variable_pvp_kiosk": "kiosk-vorey-1",
            "variable_user_name": "kiosk-vorey-1",
        },
        headers=auth,
    )
    assert is_not_found(ET.fromstring(response.data))


def test_a_blocked_address_meets_a_decoy_even_for_a_known_user(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    guard = app.extensions["pvp.sip_guard"]
    for _ in range(guard.threshold):
        guard.failed("203.0.113.9", "kiosk-vorey-1")
    blocked = directory(client, auth, "kiosk-vorey-1", ip="203.0.113.9").find(".//user")
    elsewhere = directory(client, auth, "kiosk-vorey-1", ip="192.0.2.10").find(".//user")
    assert blocked is not None and elsewhere is not None
    a1 = {p.get("name"): p.get("value") for p in blocked.iter("param")}["a1-hash"]
    real = {p.get("name"): p.get("value") for p in elsewhere.iter("param")}["a1-hash"]
    assert a1 != real
    # Never cached: FreeSWITCH's cache is per user, and the kiosk itself must still get in.
    assert blocked.get("cacheable") is None and elsewhere.get("cacheable")
