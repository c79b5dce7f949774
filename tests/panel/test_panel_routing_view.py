"""The routing view: who answers a service at a site, queue, members and rule in one form."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from panel_helpers import TZ, page
from sqlalchemy import select

from pvp.config import Settings
from pvp.db import Database
from pvp.model import (
    AuditEntry,
    CounsellorState,
    ExpertQueue,
    PlanRevision,
    QueueMembership,
    RouteRule,
)
from pvp.plan_view import load_routing_plan
from pvp.routing import decide

URL = "/routing/vorey/msa"
DEFAULTS = {
    "strategy": "longest_idle",
    "no_answer_timeout_seconds": "20",
    "wrap_up_seconds": "60",
    "max_wait_seconds": "900",
}


def _route(pdb: Database, site: str = "vorey", service: str = "msa") -> str:
    with pdb.session() as session:
        row = session.scalars(
            select(RouteRule).where(RouteRule.site_id == site, RouteRule.service_code == service)
        ).one()
        return row.queue_id


def _members(pdb: Database, queue: str) -> set[str]:
    with pdb.session() as session:
        return set(
            session.scalars(
                select(QueueMembership.counsellor_id).where(QueueMembership.queue_id == queue)
            )
        )


def _revision(pdb: Database) -> int:
    with pdb.session() as session:
        return session.scalar(select(PlanRevision.revision)) or 0


def _ready(pdb: Database, counsellor: str) -> None:
    with pdb.session() as session:
        session.merge(
            CounsellorState(counsellor_id=counsellor, console_status="available", registered=True)
        )


def test_the_list_tells_who_answers_and_warns_when_nobody_can(as_role: Any, pdb: Database) -> None:
    text = page(as_role("admin").get("/routing/"))
    row = re.search(r"<tr><td>Vorey</td><td>MSA de la Haute-Loire</td>.*?</tr>", text, re.S)
    assert row is not None
    assert "MSA 43 - permanence" in row.group(0)
    assert "aucun membre connecté et disponible en ce moment" in row.group(0)
    _ready(pdb, "msa-43-c2")
    text = page(as_role("admin").get("/routing/"))
    row = re.search(r"<tr><td>Vorey</td><td>MSA de la Haute-Loire</td>.*?</tr>", text, re.S)
    assert row is not None and "prêt" in row.group(0)


def test_the_form_offers_only_the_service_s_queues_with_timer_hints(as_role: Any) -> None:
    text = page(as_role("admin").get(URL))
    assert "Qui répond à MSA de la Haute-Loire à Vorey" in text
    select_html = re.search(r'<select id="queue_id".*?</select>', text, re.S)
    assert select_html is not None
    options = re.findall(r'<option[^>]*value="([^"]+)"', select_html.group(0))
    assert options == ["msa-43", "__nouvelle__"]
    assert "Par défaut 20 s" in text and "Par défaut 60 s" in text and "15 min" in text
    # The published queue's own timers are shown (the 2006 plan sets 1200 s and 90 s).
    assert re.search(r'id="max_wait_seconds"[^>]*value="1200"', text)
    assert re.search(r'id="wrap_up_seconds"[^>]*value="90"', text)


def test_an_admin_creates_a_queue_its_members_and_the_route_in_one_form(
    as_role: Any, pdb: Database, settings: Settings
) -> None:
    revision = _revision(pdb)
    admin = as_role("admin")
    admin.get(URL)
    response = admin.post(
        URL,
        {
            "queue_id": "__nouvelle__",
            "id": "msa-vorey",
            "name": "MSA Vorey",
            "agency_id": "msa-43",
            "members": ["msa-43-c2"],
            **DEFAULTS,
            "no_answer_timeout_seconds": "25",
        },
        follow_redirects=True,
    )
    text = page(response)
    assert response.status_code == 200, text
    assert "Publié : la file « MSA Vorey » répond à MSA de la Haute-Loire à Vorey" in text
    assert "aucun des 1 membres de la file n'est connecté et disponible" in text
    assert _route(pdb) == "msa-vorey"
    assert _members(pdb, "msa-vorey") == {"msa-43-c2"}
    with pdb.session() as session:
        queue = session.get(ExpertQueue, "msa-vorey")
        assert queue is not None and queue.no_answer_timeout_seconds == 25
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "publish_routing")
        ).one()
        assert entry.actor == "admin" and entry.entity_id == "vorey/msa"
        assert entry.before is not None and entry.before["route"]["queue_id"] == "msa-43"
        assert entry.after is not None and entry.after["members"] == ["msa-43-c2"]
    assert _revision(pdb) > revision
    # The next press follows it: the routing decision names the new queue.
    friday = datetime(2006, 11, 24, 10, tzinfo=TZ)  # 4th Friday: MSA's permanence at Vorey
    with pdb.sessions() as session:
        plan = load_routing_plan(session, settings)
    decision = decide(plan, "kiosk-vorey-1", "msa", friday)
    assert decision.decision.value == "walk_in" and decision.queue == "msa-vorey"
    # Other sites of the old queue are untouched.
    assert _route(pdb, "langeac", "msa") == "msa-43"


def test_a_queue_nobody_can_answer_is_refused_and_nothing_changes(
    as_role: Any, pdb: Database
) -> None:
    admin = as_role("admin")
    admin.get(URL)
    revision = _revision(pdb)
    response = admin.post(
        URL,
        {"queue_id": "__nouvelle__", "id": "msa-vide", "name": "Vide", "agency_id": "msa-43"}
        | DEFAULTS,
    )
    text = page(response)
    assert response.status_code == 400
    assert "Rien n'a été publié." in text
    assert "« Conseillers membres de la file » : personne ne pourrait répondre" in text
    with pdb.session() as session:
        assert session.get(ExpertQueue, "msa-vide") is None
    assert _route(pdb) == "msa-43" and _revision(pdb) == revision
    # Unticking every member of the published queue is refused the same way.
    response = admin.post(URL, {"queue_id": "msa-43"} | DEFAULTS)
    assert response.status_code == 400
    assert _members(pdb, "msa-43") == {"msa-43-c1", "msa-43-c2"}


def test_a_queue_of_another_service_or_a_bad_timer_is_refused(as_role: Any, pdb: Database) -> None:
    admin = as_role("admin")
    admin.get(URL)
    response = admin.post(URL, {"queue_id": "anpe-le-puy", "members": ["msa-43-c1"]} | DEFAULTS)
    assert response.status_code == 400
    assert "« File d'experts qui répond »" in page(response)
    new = {"queue_id": "__nouvelle__", "id": "x", "name": "X", "members": ["msa-43-c1"]}
    response = admin.post(URL, new | DEFAULTS | {"agency_id": "anpe-le-puy"})
    assert response.status_code == 400
    assert "« Agence de la nouvelle file » : choisissez une agence du service" in page(response)
    response = admin.post(
        URL,
        {"queue_id": "msa-43", "members": ["msa-43-c1"]} | DEFAULTS | {"wrap_up_seconds": "-1"},
    )
    assert response.status_code == 400
    assert "« Temps de clôture après un appel (s) » : entre 0 et 3600 secondes" in page(response)
    assert _route(pdb) == "msa-43"


def test_changing_the_members_and_timers_of_the_published_queue(
    as_role: Any, pdb: Database
) -> None:
    _ready(pdb, "msa-43-c1")
    manager = as_role("gestion-msa")
    manager.get(URL)
    response = manager.post(
        URL,
        {"queue_id": "msa-43", "members": ["msa-43-c1"]} | DEFAULTS | {"max_wait_seconds": "600"},
        follow_redirects=True,
    )
    text = page(response)
    assert response.status_code == 200 and "Publié" in text
    assert "Attention" not in text  # msa-43-c1 is registered and available
    assert _members(pdb, "msa-43") == {"msa-43-c1"}
    with pdb.session() as session:
        queue = session.get(ExpertQueue, "msa-43")
        assert queue is not None and queue.max_wait_seconds == 600


def test_who_may_use_the_routing_view(as_role: Any) -> None:
    assert as_role("gestion-msa").get(URL).status_code == 200
    assert as_role("gestion-anpe").get(URL).status_code == 403
    assert as_role("conseillere").get(URL).status_code == 403
    assert as_role("agent-vorey").get("/routing/").status_code == 403
    assert as_role(None).get(URL).status_code == 302
    text = page(as_role("gestion-anpe").get("/routing/"))
    assert "ANPE" in text and "MSA de la Haute-Loire" not in text
    # No button for the service at the site, or an unknown site: nothing to route.
    assert as_role("admin").get("/routing/vorey/caf").status_code == 404
    assert as_role("admin").get("/routing/nulle-part/msa").status_code == 404


def test_publishing_needs_the_csrf_token(as_role: Any, pdb: Database) -> None:
    response = as_role("admin").post(
        URL, {"queue_id": "msa-43", "members": ["msa-43-c1"]} | DEFAULTS, csrf=False
    )
    assert response.status_code == 400
    assert _members(pdb, "msa-43") == {"msa-43-c1", "msa-43-c2"}


def _priorities(pdb: Database, queue: str) -> dict[str, int]:
    with pdb.session() as session:
        rows = session.scalars(select(QueueMembership).where(QueueMembership.queue_id == queue))
        return {m.counsellor_id: m.priority for m in rows}


def test_members_priorities_are_shown_and_set_in_the_same_form(as_role: Any, pdb: Database) -> None:
    manager = as_role("gestion-msa")
    text = page(manager.get(URL))
    # The 2006 plan: msa-43-c2 backs up the permanence at priority 2.
    assert re.search(r'id="priority-msa-43-c2"[^>]*value="2"', text)
    assert re.search(r'id="priority-msa-43-c1"[^>]*value="1"', text)
    response = manager.post(
        URL,
        {
            "queue_id": "msa-43",
            "members": ["msa-43-c1", "msa-43-c2"],
            "priority-msa-43-c1": "3",
            "priority-msa-43-c2": "1",
        }
        | DEFAULTS,
    )
    assert response.status_code == 303
    assert _priorities(pdb, "msa-43") == {"msa-43-c1": 3, "msa-43-c2": 1}
    response = manager.post(
        URL,
        {"queue_id": "msa-43", "members": ["msa-43-c1"], "priority-msa-43-c1": "0"} | DEFAULTS,
    )
    assert response.status_code == 400
    assert "priorité de Conseillère MSA 43 1 (Le Puy-en-Velay) : un nombre entre 1 et 9" in page(
        response
    )
    assert re.search(r'id="priority-msa-43-c1"[^>]*value="0"', page(response))  # as typed
    assert _priorities(pdb, "msa-43") == {"msa-43-c1": 3, "msa-43-c2": 1}
