"""Every route of the URL map against every kind of caller: people of each role and scope,
kiosks by HTTP Digest, and nobody. A route added without a line here fails the test.

"Allowed" means the caller got past authentication and scopes (the answer may still be a
400 for an empty form or a 404 for a made-up id); "refused" means 401, 403, the sign-in page,
or (a kiosk posting to a panel form) the CSRF refusal.
What an allowed caller *reads* is checked by the scope tests below the walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from panel_helpers import Client
from requests.auth import HTTPDigestAuth
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Appointment, OpeningWindow, RouteRule
from pvp.provisioning import rotate_secret

A, M, C, V, L = "admin", "gestion-anpe", "conseillere", "agent-vorey", "agent-langeac"
K, KL = "kiosk-vorey-1", "kiosk-langeac-1"
PEOPLE = {A, M, C, V, L}
CALLERS = [A, M, C, V, L, K, KL, None]
PUBLIC = "public"  # anyone, signed in or not
NOBODY: set[str] = set()  # a credential this walk does not hold (switch, counsellor Digest)

# (method, rule, the URL requested, who is allowed)
ROUTES: list[tuple[str, str, str, set[str] | str]] = [
    ("GET", "/", "/", PUBLIC),
    ("GET", "/login", "/login", PUBLIC),
    ("POST", "/login", "/login", PUBLIC),
    ("GET", "/static/<path:filename>", "/static/panel.js", PUBLIC),
    ("GET", "/api/v1/health", "/api/v1/health", PUBLIC),
    ("GET", "/admin/", "/admin/", {A}),
    ("GET", "/admin/<name>/", "/admin/sites/", {A}),
    ("GET", "/admin/<name>/new", "/admin/sites/new", {A}),
    ("POST", "/admin/<name>/new", "/admin/sites/new", {A}),
    ("GET", "/admin/<name>/<key>/edit", "/admin/sites/vorey/edit", {A}),
    ("POST", "/admin/<name>/<key>/edit", "/admin/services/anpe/edit", {A}),
    ("POST", "/admin/<name>/<key>/delete", "/admin/closures/999999/delete", {A}),
    ("GET", "/admin/audit", "/admin/audit", {A}),
    ("GET", "/admin/users/", "/admin/users/", {A}),
    (
        "POST",
        "/admin/users/<int:user_id>/<any(deactivate, reactivate, reset):action>",
        "/admin/users/999999/deactivate",
        {A},
    ),
    ("GET", "/account/password", "/account/password", PEOPLE),
    ("POST", "/account/password", "/account/password", PEOPLE),
    ("GET", "/admin/holidays", "/admin/holidays", {A}),
    ("GET", "/admin/plan", "/admin/plan", {A}),
    ("POST", "/admin/plan", "/admin/plan", {A}),
    ("GET", "/admin/plan.yaml", "/admin/plan.yaml", {A}),
    ("GET", "/admin/preview", "/admin/preview", {A}),
    ("GET", "/manager/", "/manager/", {A, M}),
    ("GET", "/manager/<name>/", "/manager/windows/", {A, M}),
    ("GET", "/manager/<name>/new", "/manager/windows/new", {A, M}),
    ("POST", "/manager/<name>/new", "/manager/windows/new", {A, M}),
    ("GET", "/manager/<name>/<key>/edit", "/manager/windows/{window}/edit", {A, M}),
    ("POST", "/manager/<name>/<key>/edit", "/manager/windows/{window}/edit", {A, M}),
    ("POST", "/manager/<name>/<key>/delete", "/manager/windows/999999/delete", {A, M}),
    ("POST", "/manager/appointments", "/manager/appointments?service=anpe", {A, M}),
    (
        "POST",
        "/manager/appointments/<int:appointment_id>/<any(cancel, no_show):action>",
        "/manager/appointments/{appointment}/no_show",
        {A, M},
    ),
    (
        "GET",
        "/manager/appointments/<int:appointment_id>/move",
        "/manager/appointments/{appointment}/move",
        {A, M},
    ),
    (
        "POST",
        "/manager/appointments/<int:appointment_id>/move",
        "/manager/appointments/{appointment}/move",
        {A, M},
    ),
    ("POST", "/manager/feeds/<counsellor_id>", "/manager/feeds/anpe-le-puy-c1", {A, M}),
    ("GET", "/feeds/<counsellor_id>/<token>.ics", "/feeds/anpe-le-puy-c1/guess.ics", NOBODY),
    ("GET", "/console/", "/console/", {C}),
    ("GET", "/console/state.json", "/console/state.json", {C}),
    ("GET", "/console/events", "/console/events", {C}),
    ("POST", "/console/status", "/console/status", {C}),
    ("POST", "/console/calls/<call_id>/documents", "/console/calls/x/documents", {C}),
    ("POST", "/console/calls/<call_id>/signatures", "/console/calls/x/signatures", {C}),
    ("POST", "/console/phone", "/console/phone", {C}),
    ("GET", "/console/phone.js", "/console/phone.js", {C}),
    ("POST", "/console/calls/<call_id>/page", "/console/calls/x/page", {C}),
    ("POST", "/console/calls/<call_id>/scans", "/console/calls/x/scans", {C}),
    ("POST", "/console/faxes", "/console/faxes", {C}),
    ("GET", "/console/transfers/<int:transfer_id>.pdf", "/console/transfers/999999.pdf", {C}),
    ("GET", "/supervision/", "/supervision/", {A, V, L}),
    ("GET", "/evaluation/", "/evaluation/?year=2006", {A, M}),
    ("GET", "/evaluation/export.csv", "/evaluation/export.csv?year=2006", {A, M}),
    ("GET", "/evaluation/staffing.csv", "/evaluation/staffing.csv?year=2006", {A, M}),
    (
        "GET",
        "/manager/appointments/<int:appointment_id>/cancel",
        "/manager/appointments/{appointment}/cancel",
        {A, M},
    ),
    (
        "POST",
        "/manager/appointments/<int:appointment_id>/restore",
        "/manager/appointments/{appointment}/restore",
        {A, M},
    ),
    ("GET", "/routing/", "/routing/", {A, M}),
    ("GET", "/routing/<site_id>/<code>", "/routing/vorey/anpe", {A, M}),
    ("POST", "/routing/<site_id>/<code>", "/routing/vorey/anpe", {A, M}),
    (
        "GET",
        "/manager/appointments/<int:appointment_id>/convocation",
        "/manager/appointments/{appointment}/convocation",
        {A, M},
    ),
    (
        "POST",
        "/manager/appointments/<int:appointment_id>/convocation",
        "/manager/appointments/{appointment}/convocation",
        {A, M},
    ),
    (
        "GET",
        "/manager/appointments/<int:appointment_id>/convocation.pdf",
        "/manager/appointments/{appointment}/convocation.pdf",
        {A, M},
    ),
    ("POST", "/freeswitch/directory", "/freeswitch/directory", NOBODY),
    ("POST", "/freeswitch/dialplan", "/freeswitch/dialplan", NOBODY),
    ("GET", "/api/v1/kiosks", "/api/v1/kiosks", {A, M, V, L}),
    ("GET", "/api/v1/route", "/api/v1/route?kiosk=kiosk-vorey-1&service=anpe", {A, M, V, K}),
    (
        "GET",
        "/api/v1/kiosks/<kiosk_id>/availability",
        "/api/v1/kiosks/kiosk-vorey-1/availability",
        {A, M, V, K},
    ),
    (
        "POST",
        "/api/v1/kiosks/<kiosk_id>/heartbeat",
        "/api/v1/kiosks/kiosk-vorey-1/heartbeat",
        {K},
    ),
    (
        "POST",
        "/api/v1/kiosks/<kiosk_id>/documents",
        "/api/v1/kiosks/kiosk-vorey-1/documents",
        {K},
    ),
    ("GET", "/api/v1/documents/<token>", "/api/v1/documents/guess", {K, KL}),
    ("GET", "/api/v1/queues", "/api/v1/queues", {A, M, C}),
    (
        "POST",
        "/api/v1/counsellors/<counsellor_id>/status",
        "/api/v1/counsellors/anpe-le-puy-c1/status",
        {A, M, C},
    ),
    ("POST", "/api/v1/calls/<call_id>/documents", "/api/v1/calls/x/documents", NOBODY),
    ("GET", "/api/v1/calls/<call_id>/documents", "/api/v1/calls/x/documents", NOBODY),
    ("POST", "/api/v1/calls/<call_id>/signatures", "/api/v1/calls/x/signatures", NOBODY),
    ("POST", "/api/v1/calls/<call_id>/page", "/api/v1/calls/x/page", NOBODY),
    ("POST", "/api/v1/calls/<call_id>/scans", "/api/v1/calls/x/scans", NOBODY),
    ("POST", "/api/v1/faxes", "/api/v1/faxes", NOBODY),
    ("GET", "/api/v1/transfers/<int:transfer_id>/pdf", "/api/v1/transfers/1/pdf", NOBODY),
    # Last: it ends the session of the walk.
    ("POST", "/logout", "/logout", PUBLIC),
]


@dataclass
class Answer:
    status: int
    location: str
    text: str
    framing: str = ""  # the CSP's frame-ancestors rule, there on every answer


Caller = Callable[[str, str], Answer]


@pytest.fixture
def kiosk_secrets(pdb: Database, settings: Settings) -> dict[str, str]:
    with pdb.session() as session:
        return {k: rotate_secret(session, k, settings.sip_domain) for k in (K, KL)}


@pytest.fixture
def caller(
    as_role: Any, app: Flask, serve: Any, kiosk_secrets: dict[str, str]
) -> Iterator[Callable[[str | None], Caller]]:
    """``caller(who)(method, url)``: a panel session, a kiosk's Digest, or nobody."""
    base = serve(app)

    def make(who: str | None) -> Caller:
        if who in (K, KL):
            auth = HTTPDigestAuth(who, kiosk_secrets[who])

            def by_digest(method: str, url: str) -> Answer:
                got = requests.request(
                    method, base + url, auth=auth, timeout=10, allow_redirects=False
                )
                return Answer(
                    got.status_code,
                    got.headers.get("Location", ""),
                    got.text,
                    got.headers.get("Content-Security-Policy", ""),
                )

            return by_digest
        client: Client = as_role(who)

        def by_session(method: str, url: str) -> Answer:
            got = client.get(url) if method == "GET" else client.post(url, {})
            text = "" if got.is_streamed else got.get_data(as_text=True)
            answer = Answer(
                got.status_code,
                got.headers.get("Location", ""),
                text,
                got.headers.get("Content-Security-Policy", ""),
            )
            got.close()
            return answer

        return by_session

    yield make


def _ids(pdb: Database) -> dict[str, int]:
    with pdb.sessions() as session:
        window = session.scalars(
            select(OpeningWindow.id)
            .join(RouteRule)
            .where(RouteRule.service_code == "anpe", RouteRule.site_id == "varennes-sur-allier")
        ).one()
        appointment = session.scalars(
            select(Appointment.id).where(Appointment.service_code == "anpe").limit(1)
        ).first()
    return {"window": window, "appointment": appointment or 999999}


def test_the_table_lists_every_route_of_the_url_map(app: Flask) -> None:
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    listed = {(method, rule) for method, rule, _, _ in ROUTES}
    assert served - listed == set(), "routes with no line in ROUTES"
    assert listed - served == set(), "lines in ROUTES for routes that do not exist"


@pytest.mark.parametrize("who", CALLERS, ids=[c or "anonymous" for c in CALLERS])
def test_each_caller_against_each_route(caller: Any, pdb: Database, who: str | None) -> None:
    call = caller(who)
    ids = _ids(pdb)
    wrong = []
    for method, _rule, url, allowed in ROUTES:
        answer = call(method, url.format(**ids))
        to_login = answer.status in (302, 303) and "/login" in answer.location
        no_csrf = answer.status == 400 and "CSRF" in answer.text  # a form posted by a machine
        refused = answer.status in (401, 403) or to_login or no_csrf
        if "frame-ancestors 'none'" not in answer.framing:
            wrong.append((method, url, answer.status, "no security headers"))
        if answer.status >= 500:
            wrong.append((method, url, answer.status, "server error"))
        elif allowed == PUBLIC:
            continue
        elif who in allowed and refused:
            wrong.append((method, url, answer.status, "refused"))
        elif who not in allowed and not refused and not (not allowed and answer.status == 404):
            wrong.append((method, url, answer.status, "let in"))
    assert wrong == []


# --- what an allowed caller reads ---


def test_a_site_agent_reads_their_site_kiosks_only(as_role: Any) -> None:
    kiosks = as_role(V).get("/api/v1/kiosks").get_json()
    assert kiosks and {k["site"] for k in kiosks} == {"vorey"}


def test_a_manager_reads_the_kiosks_offering_their_service_only(as_role: Any) -> None:
    everyone = as_role(A).get("/api/v1/kiosks").get_json()
    kiosks = as_role(M).get("/api/v1/kiosks").get_json()
    assert kiosks and all("anpe" in k["services"] for k in kiosks)
    assert len(kiosks) == sum("anpe" in k["services"] for k in everyone) < len(everyone)


def test_a_manager_reads_only_their_service_buttons_of_a_kiosk(as_role: Any) -> None:
    got = as_role(M).get("/api/v1/kiosks/kiosk-vorey-1/availability").get_json()
    assert [s["service"] for s in got["services"]] == ["anpe"]


def test_a_counsellor_reads_the_queues_they_serve_only(as_role: Any, pdb: Database) -> None:
    from pvp.model import QueueMembership

    with pdb.sessions() as session:
        mine = set(
            session.scalars(
                select(QueueMembership.queue_id).where(
                    QueueMembership.counsellor_id == "anpe-le-puy-c1"
                )
            )
        )
    everyone = {q["id"] for q in as_role(A).get("/api/v1/queues").get_json()["queues"]}
    seen = {q["id"] for q in as_role(C).get("/api/v1/queues").get_json()["queues"]}
    assert mine and seen == mine and seen < everyone
    manager = {q["id"] for q in as_role(M).get("/api/v1/queues").get_json()["queues"]}
    assert manager and all(q.startswith("anpe") for q in manager)


def test_a_counsellor_does_not_see_other_counsellors_calls(app: Flask) -> None:
    from flask import g

    from pvp.model import Role
    from pvp.panel.security import PanelUser
    from pvp.web import scopes

    queue = {
        "id": "q",
        "waiting": [{"call": "w1", "ringing": "other"}],
        "talking": [
            {"call": "mine", "counsellor": "me"},
            {"call": "theirs", "counsellor": "other"},
        ],
        "counsellors": [{"id": "me", "call": "mine"}, {"id": "other", "call": "theirs"}],
    }
    with app.test_request_context():
        g.person = PanelUser(1, "x", Role.COUNSELLOR, "me")
        shown = scopes._own_calls_only(queue, "me")
    assert "theirs" not in repr(shown) and "other" in repr(shown)
    assert shown["talking"] == [{"call": "mine", "counsellor": "me"}]


@pytest.mark.parametrize("who", [L, KL])
def test_another_site_learns_nothing_of_a_vorey_route(caller: Any, who: str) -> None:
    answer = caller(who)("GET", "/api/v1/route?kiosk=kiosk-vorey-1&service=anpe")
    assert answer.status == 403
    assert "counsellor" not in answer.text and "vorey" not in answer.text
