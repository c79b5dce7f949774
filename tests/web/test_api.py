"""The control plane's JSON API, through Flask's test client on the 2006 plan."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from pvp.config import Settings
from pvp.db import Database
from pvp.web.app import create_app


@pytest.fixture
def app(db: Database, settings: Settings):
    return create_app(settings, db, {"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def client(app, sign_in) -> FlaskClient:
    """A region admin's client: the API reads need a signed-in person or a kiosk."""
    return sign_in(app.test_client())


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/kiosks",
        "/api/v1/route?kiosk=kiosk-vorey-1&service=msa",
        "/api/v1/kiosks/kiosk-vorey-1/availability",
        "/api/v1/queues",
    ],
)
def test_the_anonymous_get_401_not_data(app, path: str) -> None:
    got = app.test_client().get(path)
    assert got.status_code == 401
    assert set(got.get_json()) == {"error", "status"}


def test_a_site_agent_cannot_read_the_queues(app, sign_in) -> None:
    agent = sign_in(app.test_client(), "site_agent", "vorey")
    assert agent.get("/api/v1/queues").status_code == 403
    assert agent.get("/api/v1/kiosks").status_code == 200


def test_a_kiosk_reads_its_own_availability_only(app, db: Database, settings: Settings, serve):
    import requests
    from requests.auth import HTTPDigestAuth

    from pvp.provisioning import rotate_secret

    with db.session() as session:
        secret = rotate_secret(session, "kiosk-vorey-1", settings.sip_domain)
    base = serve(app)
    auth = HTTPDigestAuth("kiosk-vorey-1", secret)
    own = requests.get(f"{base}/api/v1/kiosks/kiosk-vorey-1/availability", auth=auth, timeout=5)
    assert own.status_code == 200 and own.json()["kiosk"] == "kiosk-vorey-1"
    other = requests.get(f"{base}/api/v1/kiosks/kiosk-cunlhat-1/availability", auth=auth, timeout=5)
    assert other.status_code == 403
    assert requests.get(f"{base}/api/v1/kiosks", auth=auth, timeout=5).status_code == 401


def test_kiosk_list(client: FlaskClient) -> None:
    kiosks = client.get("/api/v1/kiosks").get_json()
    assert len(kiosks) == 20
    vorey = next(k for k in kiosks if k["id"] == "kiosk-vorey-1")
    assert vorey["commune"] == "Vorey" and vorey["community"] == "Emblavez"
    assert vorey["department"] == "43"
    assert vorey["services"] == ["anpe", "urssaf", "cram", "msa"]


def test_route_decision(client: FlaskClient) -> None:
    got = client.get(
        "/api/v1/route",
        query_string={"kiosk": "kiosk-vorey-1", "service": "msa", "at": "2006-11-24T10:00"},
    )
    assert got.status_code == 200
    body = got.get_json()
    assert body["decision"] == "walk_in" and body["queue"] == "msa-43"
    closed = client.get(
        "/api/v1/route",
        query_string={"kiosk": "kiosk-vorey-1", "service": "msa", "at": "2006-11-17T10:00+01:00"},
    ).get_json()
    assert closed["decision"] == "closed"
    assert closed["next_opening"] == "2006-11-24T09:00:00+01:00"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"service": "msa"}, "kiosk"),
        ({"kiosk": "kiosk-vorey-1"}, "service"),
        ({"kiosk": "kiosk-vorey-1", "service": "msa", "at": "next friday"}, "at"),
        ({"kiosk": "kiosk-vorey-1", "service": "msa", "at": "2006-13-40T10:00"}, "at"),
        ({"kiosk": "kiosk-nowhere-1", "service": "msa"}, "kiosk"),
        ({"kiosk": "kiosk-vorey-1", "service": "impots"}, "service"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(
    client: FlaskClient, params: dict, field: str
) -> None:
    got = client.get("/api/v1/route", query_string=params)
    assert got.status_code == 400
    body = got.get_json()
    assert body["field"] == field and body["error"]


def test_availability_lists_every_button(client: FlaskClient) -> None:
    got = client.get("/api/v1/kiosks/kiosk-vorey-1/availability?at=2006-11-24T10:00").get_json()
    decisions = {s["service"]: s["decision"] for s in got["services"]}
    assert decisions == {"anpe": "closed", "urssaf": "closed", "cram": "closed", "msa": "walk_in"}
    assert client.get("/api/v1/kiosks/nope/availability").status_code == 400


def test_unknown_path_is_json_not_html(client: FlaskClient) -> None:
    got = client.get("/api/v1/nothing-here")
    assert got.status_code == 404 and got.get_json()["status"] == 404


def test_an_edit_is_seen_by_the_next_decision_without_restart(
    client: FlaskClient, db: Database
) -> None:
    from sqlalchemy import select

    from pvp.db import bump_revision
    from pvp.model import OpeningWindow, RouteRule

    q = {"kiosk": "kiosk-vorey-1", "service": "msa", "at": "2006-11-17T10:00"}
    assert client.get("/api/v1/route", query_string=q).get_json()["decision"] == "closed"
    with db.session() as session:
        route = session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == "msa")
        ).one()
        window = session.scalars(
            select(OpeningWindow).where(OpeningWindow.route_id == route.id)
        ).one()
        window.nth = "3,4"
        bump_revision(session)
    assert client.get("/api/v1/route", query_string=q).get_json()["decision"] == "walk_in"
