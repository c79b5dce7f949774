"""Counsellor status and the queues' state through the HTTP API and the ``pvp`` command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.dispatcher.store import QueueStore, build_policy
from pvp.model import AuditEntry, CounsellorState
from pvp.web.app import create_app

from .helpers import arrival, at


@pytest.fixture
def app(db: Database, settings: Settings):
    return create_app(settings, db, {"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def client(app, sign_in) -> FlaskClient:
    return sign_in(app.test_client())


def test_status_needs_a_signed_in_person_and_the_csrf_token(app, sign_in, db: Database) -> None:
    url = "/api/v1/counsellors/msa-43-c1/status"
    assert app.test_client().post(url, json={"status": "available"}).status_code == 401
    no_token = sign_in(app.test_client())
    del no_token.environ_base["HTTP_X_CSRFTOKEN"]
    assert no_token.post(url, json={"status": "available"}).status_code == 400
    assert console_of(db, "msa-43-c1") is None


def test_a_counsellor_sets_only_their_own_status(app, sign_in, db: Database) -> None:
    herself = sign_in(app.test_client(), "counsellor", "msa-43-c1")
    assert (
        herself.post(
            "/api/v1/counsellors/msa-43-c1/status", json={"status": "available"}
        ).status_code
        == 200
    )
    assert (
        herself.post(
            "/api/v1/counsellors/msa-43-c2/status", json={"status": "available"}
        ).status_code
        == 403
    )
    other_service = sign_in(app.test_client(), "service_manager", "caf")
    assert (
        other_service.post(
            "/api/v1/counsellors/msa-43-c2/status", json={"status": "paused"}
        ).status_code
        == 403
    )
    assert console_of(db, "msa-43-c1") == "available"
    assert console_of(db, "msa-43-c2") is None
    with db.sessions() as session:  # the one change made is audited, naming who made it
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "counsellor_states")
        )
        assert [(e.actor, e.action, e.entity_id) for e in entries] == [
            ("counsellor-0", "status", "msa-43-c1")
        ]


def console_of(db: Database, counsellor: str) -> str | None:
    with db.sessions() as session:
        state = session.get(CounsellorState, counsellor)
        return state.console_status if state else None


def test_given_a_counsellor_when_status_is_posted_then_it_is_kept(
    client: FlaskClient, db: Database
) -> None:
    got = client.post("/api/v1/counsellors/msa-43-c1/status", json={"status": "available"})
    assert got.status_code == 200
    assert got.get_json() == {"counsellor": "msa-43-c1", "status": "available"}
    assert console_of(db, "msa-43-c1") == "available"


@pytest.mark.parametrize("body", [{"status": "busy"}, {}, ["available"], None])
def test_given_a_bad_status_when_posted_then_400_and_nothing_changes(
    client: FlaskClient, db: Database, body: object
) -> None:
    got = client.post("/api/v1/counsellors/msa-43-c1/status", json=body)
    assert got.status_code == 400 and got.get_json()["field"] == "status"
    assert console_of(db, "msa-43-c1") is None


def test_given_an_unknown_counsellor_when_status_is_posted_then_404(client: FlaskClient) -> None:
    got = client.post("/api/v1/counsellors/zoe/status", json={"status": "paused"})
    assert got.status_code == 404 and "zoe" in got.get_json()["error"]


def test_given_a_waiting_caller_when_queues_are_read_then_position_and_counsellors_show(
    client: FlaskClient, db: Database
) -> None:
    store = QueueStore(db)
    policy, _, _ = build_policy(store, at(0))
    store.ensure_record(arrival("k1"), "walk_in")
    policy.caller_parked(arrival("k1"), at(0))
    store.sync(policy, {})
    client.post("/api/v1/counsellors/msa-43-c2/status", json={"status": "paused"})
    queues = {q["id"]: q for q in client.get("/api/v1/queues").get_json()["queues"]}
    msa = queues["msa-43"]
    assert [(w["call"], w["kiosk"], w["position"]) for w in msa["waiting"]] == [
        ("k1", "kiosk-vorey-1", 1)
    ]
    assert [(c["id"], c["priority"], c["console"]) for c in msa["counsellors"]] == [
        ("msa-43-c1", 1, "offline"),
        ("msa-43-c2", 2, "paused"),
    ]
    assert queues["caf-63"]["waiting"] == []


def test_the_cli_sets_a_status_in_french(db: Database, settings: Settings) -> None:
    env = {"PVP_DATA_DIR": str(settings.data_dir)}
    out = CliRunner().invoke(main, ["counsellor", "status", "msa-43-c1", "paused"], env=env)
    assert out.exit_code == 0 and out.output == "msa-43-c1 : en pause\n"
    assert console_of(db, "msa-43-c1") == "paused"
    out = CliRunner().invoke(main, ["counsellor", "status", "zoe", "paused"], env=env)
    assert out.exit_code == 2 and "conseiller inconnu : zoe" in out.output
    out = CliRunner().invoke(main, ["counsellor", "status", "msa-43-c1", "busy"], env=env)
    assert out.exit_code == 2  # click refuses the value before anything is written
