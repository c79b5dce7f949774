"""Route rules: an edit moves the rule, an empty queue is warned of, names instead of ids."""

from __future__ import annotations

from typing import Any

from panel_helpers import next_open_day, page
from sqlalchemy import select

from pvp.db import Database
from pvp.model import AuditEntry, OpeningWindow, QueueMembership, RouteRule

# A new MSA queue nobody is a member of.
EMPTY_QUEUE = {
    "id": "msa-43-vide",
    "agency_id": "msa-43",
    "name": "MSA 43 - vide",
    "strategy": "longest_idle",
    "max_wait_seconds": "900",
    "no_answer_timeout_seconds": "20",
    "wrap_up_seconds": "60",
}


def _rule(pdb: Database, site: str, service: str) -> RouteRule | None:
    with pdb.sessions() as session:
        return session.scalars(
            select(RouteRule).where(RouteRule.site_id == site, RouteRule.service_code == service)
        ).first()


def test_an_edit_moves_a_rule_to_another_site_with_its_windows(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    # Saugues gets a kiosk with an MSA button, so a rule for MSA may go there.
    assert (
        c.post(
            "/admin/kiosks/new", {"site_id": "saugues", "number": "2", "buttons": "anpe,msa"}
        ).status_code
        == 200  # the page showing the new kiosk's SIP secret once
    )
    rule = _rule(pdb, "vorey", "msa")
    assert rule is not None
    with pdb.sessions() as session:
        windows = session.scalars(
            select(OpeningWindow.id).where(OpeningWindow.route_id == rule.id)
        ).all()
    r = c.post(
        f"/admin/routes/{rule.id}/edit",
        {"site_id": "saugues", "service_code": "msa", "queue_id": rule.queue_id},
    )
    assert r.status_code == 302
    assert "Enregistré : la règle « Saugues · MSA »." in page(c.get(r.headers["Location"]))
    assert _rule(pdb, "vorey", "msa") is None
    moved = _rule(pdb, "saugues", "msa")
    assert moved is not None and moved.id == rule.id
    with pdb.sessions() as session:
        assert (
            session.scalars(select(OpeningWindow.id).where(OpeningWindow.route_id == rule.id)).all()
            == windows
        )
        entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "routes")).one()
        assert (entry.before["site_id"], entry.after["site_id"]) == ("vorey", "saugues")


def test_an_edit_onto_a_site_that_has_the_rule_already_is_refused(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    rule = _rule(pdb, "vorey", "msa")
    r = c.post(
        f"/admin/routes/{rule.id}/edit",
        {"site_id": "langeac", "service_code": "msa", "queue_id": rule.queue_id},
    )
    assert r.status_code == 400
    assert "« Service » : ce service a déjà une règle sur ce site" in page(r)
    assert _rule(pdb, "vorey", "msa").id == rule.id
    r = c.post(
        f"/admin/routes/{rule.id}/edit",
        {"site_id": "saugues", "service_code": "msa", "queue_id": rule.queue_id},
    )
    assert r.status_code == 400 and "aucune borne du site n'a de bouton" in page(r)


def test_a_route_to_an_empty_queue_is_warned_of_and_the_preview_says_nobody_answers(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    assert c.post("/admin/queues/new", EMPTY_QUEUE).status_code == 302
    rule = _rule(pdb, "vorey", "msa")
    r = c.post(
        f"/admin/routes/{rule.id}/edit",
        {"site_id": "vorey", "service_code": "msa", "queue_id": "msa-43-vide"},
    )
    assert r.status_code == 302
    shown = page(c.get(r.headers["Location"]))
    assert "Attention : la file « MSA 43 - vide » n'a aucun conseiller" in shown
    # The 4th Friday of a month, inside the MSA permanence at Vorey.
    day = next_open_day(4)
    while not 22 <= day.day <= 28:
        day = next_open_day(4, day)
    preview = c.get(
        "/admin/preview",
        query_string={"kiosk": "kiosk-vorey-1", "service": "msa", "at": f"{day}T10:00"},
    )
    text = page(preview)
    assert 'data-unanswered="yes"' in text
    assert "la file « MSA 43 - vide » n'a aucun conseiller" in text
    assert "l'appel rejoint la file" not in text
    assert "Décision : permanence · site Vorey · file « MSA 43 - vide »" in text
    # Once someone is a member, the warning goes.
    with pdb.session() as session:
        session.add(QueueMembership(counsellor_id="msa-43-c1", queue_id="msa-43-vide"))
    text = page(c.get(preview.request.full_path))
    assert "Permanence ouverte : l'appel rejoint la file « MSA 43 - vide »" in text


def test_lists_show_names_not_ids(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    windows = page(c.get("/admin/windows/"))
    assert "<td>Vorey · MSA</td>" in windows
    assert "<td>vendredi</td>" in windows and "<td>4e</td>" in windows
    assert "wed,thu" not in windows and "<td>mercredi, jeudi</td>" in windows
    routes = page(c.get("/admin/routes/"))
    assert "<td>Vorey · MSA</td>" in routes and "4e vendredi 9:00–12:00" in routes
    rule = _rule(pdb, "vorey", "msa")
    with pdb.sessions() as session:
        window = session.scalars(
            select(OpeningWindow).where(OpeningWindow.route_id == rule.id)
        ).first()
    edit = page(c.get(f"/admin/windows/{window.id}/edit"))
    assert "Modifier la plage « Vorey · MSA · 4e vendredi 9:00–12:00 »" in edit
    assert "<td>MSA 43 - permanence</td>" in page(c.get("/admin/memberships/"))
    kiosks = page(c.get("/admin/kiosks/"))
    assert "<td>Vorey</td>" in kiosks and "<td>ANPE, URSSAF, CRAM, MSA</td>" in kiosks


def test_the_queue_form_has_defaults_and_hints(as_role: Any) -> None:
    text = page(as_role("admin").get("/admin/queues/new"))
    for name, value in (
        ("max_wait_seconds", "900"),
        ("no_answer_timeout_seconds", "20"),
        ("wrap_up_seconds", "60"),
    ):
        field = text.split(f'id="{name}"', 1)[1].split(">", 1)[0]
        assert f'value="{value}"' in field, name
        assert f'aria-describedby="{name}-hint"' in text, name
    assert "Sonnerie d'un conseiller avant de proposer l'appel au suivant" in text


def test_the_route_form_groups_queues_by_service_with_their_members(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    c.post("/admin/queues/new", EMPTY_QUEUE)
    rule = _rule(pdb, "vorey", "msa")
    text = page(c.get(f"/admin/routes/{rule.id}/edit"))
    group = text.split('<optgroup label="MSA de la Haute-Loire">', 1)[1].split("</optgroup>")[0]
    assert "MSA 43 - permanence (2 membres)" in group and "MSA 43 - vide (aucun membre)" in group
    assert "CAF" not in group and 'data-service="msa"' in group
