"""The region admin: the plan's tables, validation, the routing preview, import and export."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from panel_helpers import local, next_open_day, page
from sqlalchemy import func, select

from pvp.db import Database
from pvp.model import (
    AuditEntry,
    ClosureDay,
    Counsellor,
    ExpertQueue,
    Kiosk,
    OpeningWindow,
    QueueMembership,
    RouteRule,
    Service,
    Site,
)
from pvp.panel.entities import ENTITIES
from pvp.plan import parse_plan
from pvp.provisioning import apply_plan
from pvp.yamlload import load_yaml


def _vorey_route(pdb: Database, service: str = "anpe") -> RouteRule:
    with pdb.sessions() as session:
        return session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == service)
        ).one()


def _window_of(pdb: Database, route_id: int) -> OpeningWindow:
    with pdb.sessions() as session:
        return session.scalars(
            select(OpeningWindow).where(OpeningWindow.route_id == route_id)
        ).one()


VALID: dict[str, dict[str, Any]] = {
    "sites": {
        "id": "tence",
        "department_code": "43",
        "community": "Haut-Lignon",
        "commune": "Tence",
        "host_place": "Mairie",
        "agent_phone": "04 71 00 00 00",
        "agent_email": "accueil@tence.example",
        "pilot": "y",
    },
    "kiosks": {"site_id": "vorey", "number": "2", "buttons": "anpe,msa"},
    "agencies": {
        "id": "anpe-yssingeaux",
        "service_code": "anpe",
        "name": "ANPE Yssingeaux",
        "town": "Yssingeaux",
        "department_code": "43",
    },
    "stations": {"id": "anpe-le-puy-2", "agency_id": "anpe-le-puy", "label": "Poste 2"},
    "queues": {
        "id": "msa-43-bis",
        "agency_id": "msa-43",
        "name": "MSA 43 bis",
        "strategy": "round_robin",
        "max_wait_seconds": "600",
        "no_answer_timeout_seconds": "20",
        "wrap_up_seconds": "30",
    },
    "counsellors": {
        "id": "anpe-le-puy-c3",
        "display_name": "Conseiller 3",
        "agency_id": "anpe-le-puy",
        "station_id": "anpe-le-puy-1",
    },
    "memberships": {"counsellor_id": "anpe-le-puy-c2", "queue_id": "anpe-brioude", "priority": "3"},
    "closures": {
        "site_id": "vorey",
        "service_code": "",
        "first_day": "2006-08-07",
        "last_day": "2006-08-18",
        "reason": "Congés d'été",
    },
    "windows": {
        "route_id": "{route}",
        "mode": "walk_in",
        "weekdays": ["mon"],
        "nth": "1,3",
        "start_time": "14:00",
        "end_time": "16:00",
        "valid_from": "2006-09-01",
        "valid_until": "2006-12-31",
        "except_dates": "2006-11-06",
        "note": "essai",
    },
}

# One bad field per form: (payload changes, field label, French message).
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("sites", {"id": "Tence!"}, "Identifiant", "minuscules, chiffres"),
    ("sites", {"commune": ""}, "Commune", "ce champ est obligatoire"),
    ("sites", {"agent_email": "pas-une-adresse"}, "Courriel de l'agent", "adresse électronique"),
    ("sites", {"id": "vorey"}, "Identifiant", "existe déjà"),
    ("kiosks", {"buttons": "anpe,poste"}, "Boutons de service", "service inconnu"),
    ("kiosks", {"number": "12"}, "Numéro de la borne sur le site", "entre 1 et 9"),
    ("kiosks", {"number": "1"}, "Numéro de la borne sur le site", "existe déjà"),
    ("agencies", {"name": ""}, "Nom", "ce champ est obligatoire"),
    ("agencies", {"department_code": "99"}, "Département", ""),
    ("stations", {"agency_id": "nulle-part"}, "Agence", ""),
    ("queues", {"max_wait_seconds": "0"}, "Attente maximale (s)", "entre 1 et 14400"),
    ("queues", {"no_answer_timeout_seconds": "abc"}, "Délai de non-réponse (s)", ""),
    ("counsellors", {"station_id": "msa-43-1"}, "Poste expert", "n'appartient pas"),
    ("counsellors", {"id": "kiosk-vorey-1"}, "Identifiant (compte SIP)", "une borne"),
    ("memberships", {"queue_id": "msa-43"}, "File d'experts", "autre service"),
    ("memberships", {"priority": "0"}, "Priorité (1 est servie d'abord)", "entre 1 et 9"),
    ("closures", {"last_day": "2006-08-01"}, "Dernier jour", "précède le premier"),
    ("closures", {"first_day": "07/08/2006"}, "Premier jour", "pas une date valide"),
    ("windows", {"end_time": "13:00"}, "Fermeture", "doit suivre"),
    ("windows", {"weekdays": []}, "Jours", "au moins un jour"),
    ("windows", {"nth": "6"}, "Rang du jour dans le mois", "non permise"),
    ("windows", {"except_dates": "2006-13-01"}, "Jours exclus", "AAAA-MM-JJ"),
    ("windows", {"valid_until": "2006-01-01"}, "Valable jusqu'au", "précède son début"),
]


def _payload(pdb: Database, name: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    data = dict(VALID[name])
    if name == "windows":
        data["route_id"] = str(_vorey_route(pdb, "msa").id)
    data.update(changes or {})
    return data


def _counts(pdb: Database) -> tuple[int, ...]:
    with pdb.sessions() as session:
        models = (
            Site,
            Kiosk,
            Service,
            ExpertQueue,
            Counsellor,
            QueueMembership,
            RouteRule,
            OpeningWindow,
            ClosureDay,
        )
        return (
            *(session.scalar(select(func.count()).select_from(m)) or 0 for m in models),
            pdb.revision(),
        )


@pytest.mark.parametrize("name", list(VALID))
def test_admin_creates_each_kind_of_entry_with_audit_and_new_revision(
    as_role: Any, pdb: Database, name: str
) -> None:
    c = as_role("admin")
    assert c.get(f"/admin/{name}/new").status_code == 200
    revision = pdb.revision()
    response = c.post(f"/admin/{name}/new", _payload(pdb, name))
    # A kiosk or a counsellor comes with its SIP secret, shown in the answer itself.
    assert response.status_code == (200 if name in ("kiosks", "counsellors") else 302), page(
        response
    )
    assert pdb.revision() == revision + 1
    with pdb.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == name)).one()
        assert entry.actor == "admin" and entry.action == "create"
        assert entry.before is None and entry.after
    shown = page(response) if response.status_code == 200 else page(c.get(f"/admin/{name}/"))
    assert "Enregistré" in shown


def _cookie_text(value: str) -> str:
    """What anyone holding the cookie reads: Flask's payload is base64 (zlib when long)."""
    import base64
    import zlib

    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(data) if compressed else data).decode()


def test_a_new_kiosk_gets_its_sip_secret_shown_once(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    response = c.post("/admin/kiosks/new", _payload(pdb, "kiosks"))
    shown = page(response)
    assert "Secret SIP de kiosk-vorey-2" in shown
    secret = re.search(r'<code class="secret">([^<]+)</code>', shown).group(1)
    assert response.headers["Cache-Control"] == "no-store"
    # Not in the session cookie (signed, not encrypted), not shown again.
    cookie = c.http.get_cookie("session")
    assert cookie is not None and secret not in _cookie_text(cookie.value)
    assert "Secret SIP" not in page(c.get("/admin/kiosks/"))
    with pdb.sessions() as session:
        kiosk = session.get(Kiosk, "kiosk-vorey-2")
        assert kiosk is not None and kiosk.service_codes == ["anpe", "msa"]
        assert len(kiosk.a1_hash) == 32


@pytest.mark.parametrize(
    ("name", "changes", "label", "message"), BAD, ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BAD]
)
def test_bad_input_names_the_field_in_french_and_changes_nothing(
    as_role: Any, pdb: Database, name: str, changes: dict[str, Any], label: str, message: str
) -> None:
    c = as_role("admin")
    before = _counts(pdb)
    response = c.post(f"/admin/{name}/new", _payload(pdb, name, changes))
    assert response.status_code == 400
    text = page(response)
    assert "Rien n'a été modifié." in text
    lines = [line for line in text.splitlines() if f"« {label} » : " in line]
    assert lines and any(message in line for line in lines), text
    assert _counts(pdb) == before


def test_every_entity_form_is_covered_by_a_bad_input_case() -> None:
    assert {b[0] for b in BAD} >= set(ENTITIES) - {"services", "routes"}


def test_routes_refuse_a_queue_of_another_service_and_a_site_without_the_button(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    before = _counts(pdb)
    r = c.post(
        "/admin/routes/new", {"site_id": "saugues", "service_code": "msa", "queue_id": "msa-43"}
    )
    assert r.status_code == 400
    assert "« Service » : aucune borne du site n'a de bouton" in page(r)
    r = c.post(
        "/admin/routes/new", {"site_id": "vorey", "service_code": "msa", "queue_id": "caf-63"}
    )
    assert "« File d'experts qui répond » : cette file appartient à un autre service" in page(r)
    r = c.post(
        "/admin/routes/new", {"site_id": "vorey", "service_code": "msa", "queue_id": "msa-43"}
    )
    assert "ce service a déjà une règle sur ce site" in page(r)
    assert _counts(pdb) == before


def test_services_are_edited_and_a_bad_one_refused(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    r = c.post("/admin/services/msa/edit", {"code": "msa", "name": "", "default_mode": "walk_in"})
    assert r.status_code == 400 and "« Nom » : ce champ est obligatoire" in page(r)
    r = c.post(
        "/admin/services/msa/edit",
        {"code": "msa", "name": "MSA Auvergne", "default_mode": "walk_in"},
    )
    assert r.status_code == 302
    with pdb.sessions() as session:
        assert session.get(Service, "msa").name == "MSA Auvergne"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "services")).one()
        assert entry.before["name"] == "MSA de la Haute-Loire"
        assert entry.after["name"] == "MSA Auvergne"


def test_an_id_is_never_renamed_by_an_edit(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    data = _payload(pdb, "sites") | {"id": "autre", "commune": "Vorey-sur-Arzon"}
    assert c.post("/admin/sites/vorey/edit", data).status_code == 302
    with pdb.sessions() as session:
        assert session.get(Site, "autre") is None
        assert session.get(Site, "vorey").commune == "Vorey-sur-Arzon"


def test_deleting_a_referenced_site_is_refused_and_a_closure_deleted(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    r = c.post("/admin/sites/vorey/delete")
    assert r.status_code == 303
    assert "Impossible de supprimer « Vorey »" in page(c.get("/admin/sites/"))
    with pdb.sessions() as session:
        assert session.get(Site, "vorey") is not None
        closure = session.scalars(select(ClosureDay)).first()
    assert c.post(f"/admin/closures/{closure.id}/delete").status_code == 303
    with pdb.sessions() as session:
        assert session.get(ClosureDay, closure.id) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).one()
        assert entry.before["reason"] == closure.reason and entry.after is None


def test_unknown_entity_and_row_are_404(as_role: Any) -> None:
    c = as_role("admin")
    assert c.get("/admin/nothing/").status_code == 404
    assert c.get("/admin/sites/nowhere/edit").status_code == 404
    assert c.get("/admin/windows/abc/edit").status_code == 404


def _preview(c: Any, kiosk: str, service: str, at: str) -> Any:
    return c.get("/admin/preview", query_string={"kiosk": kiosk, "service": service, "at": at})


def test_preview_tells_the_decision_in_french_and_follows_an_edit(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    wednesday = next_open_day(2)
    at = f"{wednesday.isoformat()}T10:00"
    text = page(_preview(c, "kiosk-vorey-1", "anpe", at))
    assert "Plage sur rendez-vous seulement" in text
    route = _vorey_route(pdb)
    window = _window_of(pdb, route.id)
    edit = {
        "route_id": str(route.id),
        "mode": "walk_in",
        "weekdays": ["wed", "thu"],
        "nth": "",
        "start_time": "09:00",
        "end_time": "12:00",
        "valid_from": "",
        "valid_until": "",
        "except_dates": "",
        "note": "",
    }
    assert c.post(f"/admin/windows/{window.id}/edit", edit).status_code == 302
    text = page(_preview(c, "kiosk-vorey-1", "anpe", at))
    assert "Permanence ouverte : l'appel rejoint la file « ANPE Le Puy-en-Velay" in text
    # The switch's own view (the JSON API through the plan cache) moved on too.
    api = c.http.get(
        "/api/v1/route", query_string={"kiosk": "kiosk-vorey-1", "service": "anpe", "at": at}
    )
    assert api.get_json()["decision"] == "walk_in"


def test_preview_shows_holidays_and_closures(as_role: Any) -> None:
    c = as_role("admin")
    text = page(_preview(c, "kiosk-vorey-1", "anpe", "2006-11-01T10:00"))
    assert "Fermé : jour férié (Toussaint)" in text
    text = page(_preview(c, "kiosk-cunlhat-1", "anpe", "2006-12-26T10:00"))
    assert "Fermé : fermeture locale (Fermeture de fin d'année" in text
    text = page(_preview(c, "kiosk-saugues-1", "msa", "2006-11-08T10:00"))
    assert "Cette borne n'a pas de bouton pour ce service." in text


def test_preview_bad_date_is_refused_with_the_field_named(as_role: Any) -> None:
    r = _preview(as_role("admin"), "kiosk-vorey-1", "anpe", "mercredi")
    assert r.status_code == 400
    assert "« Date et heure » :" in page(r)
    r = _preview(as_role("admin"), "kiosk-nulle-part", "anpe", "2006-11-08T10:00")
    assert r.status_code == 400 and "« Borne » :" in page(r)


def test_export_then_import_is_a_round_trip(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    r = c.get("/admin/plan.yaml")
    assert r.status_code == 200 and r.mimetype == "application/yaml"
    text = r.get_data(as_text=True)
    assert "ATTENTION" not in text
    plan = parse_plan(load_yaml(text), "export")
    assert len(plan.sites) == 20 and sum(s.kiosks for s in plan.sites) == 20
    with pdb.session() as session:
        assert not apply_plan(session, plan, "pvp.auvergne.local").changed
    revision = pdb.revision()
    r = c.post("/admin/plan", {"text": text})
    assert r.status_code == 200 and "Plan identique : rien n'a changé." in page(r)
    assert pdb.revision() == revision


def test_import_adds_a_site_and_shows_its_new_kiosk_secret(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    raw = load_yaml(c.get("/admin/plan.yaml").get_data(as_text=True))
    raw["sites"].append(
        {
            "id": "tence",
            "department": "43",
            "community": "Haut-Lignon",
            "commune": "Tence",
            "services": ["msa"],
            "routes": {
                "msa": {
                    "queue": "msa-43",
                    "windows": [
                        {
                            "mode": "walk_in",
                            "days": ["fri"],
                            "nth": [1],
                            "from": "09:00",
                            "to": "12:00",
                        }
                    ],
                }
            },
        }
    )
    r = c.post("/admin/plan", {"text": yaml.safe_dump(raw, allow_unicode=True)})
    text = page(r)
    assert "Plan importé." in text and "kiosk-tence-1" in text
    assert "Ajouts : " in text and "bornes 1" in text and "plages d'ouverture 1" in text
    assert "opening_windows" not in text
    with pdb.sessions() as session:
        assert session.get(Kiosk, "kiosk-tence-1") is not None
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).one()


ALIAS_BOMB = "\n".join(
    ['a0: &a0 "lol"']
    + [f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 100) + "]" for n in range(1, 31)]
    + ["name: *a30"]
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("départements: [", "YAML invalide"),
        ("", "aucun plan fourni"),
        ("departments: []\nservices: []\n", "departments : au moins 1 élément attendu"),
        # Bounded YAML (issue 10): an alias bomb pasted here blocked the whole server 19 s.
        (ALIAS_BOMB, "ses alias le feraient passer"),
        ("name: a\nname: b\n", "clé 'name' répétée (ligne 2)"),
        # Loaded on the request's thread: bounded, the rest goes through the CLI.
        ("name: x\n" + "# " + "x" * 600_000 + "\n", "plan trop grand pour le panneau (585 Kio"),
    ],
)
def test_a_bad_plan_shows_its_problems_and_imports_nothing(
    as_role: Any, pdb: Database, body: str, expected: str
) -> None:
    c = as_role("admin")
    before = _counts(pdb)
    r = c.post("/admin/plan", {"text": body})
    assert r.status_code == 400
    text = page(r)
    assert "Plan refusé, rien n'a été importé" in text and expected in text
    assert _counts(pdb) == before


def test_a_plan_with_a_wrong_reference_is_refused_whole(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    raw = load_yaml(c.get("/admin/plan.yaml").get_data(as_text=True))
    raw["sites"][0]["commune"] = "Changée"
    raw["sites"][1]["routes"] = {"anpe": {"queue": "inconnue"}}
    before = _counts(pdb)
    r = c.post("/admin/plan", {"text": yaml.safe_dump(raw, allow_unicode=True)})
    assert "routes.anpe.queue : file inconnue : 'inconnue'" in page(r)
    assert _counts(pdb) == before
    with pdb.sessions() as session:
        assert session.get(Site, raw["sites"][0]["id"]).commune != "Changée"


def test_export_warns_of_what_the_plan_format_cannot_hold(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    c.post("/admin/kiosks/new", {"site_id": "vorey", "number": "3", "buttons": "anpe"})
    text = c.get("/admin/plan.yaml").get_data(as_text=True)
    assert "# ATTENTION : site vorey : bornes kiosk-vorey-1, kiosk-vorey-3" in text


def test_holidays_and_audit_pages(as_role: Any) -> None:
    c = as_role("admin")
    text = page(c.get("/admin/holidays?year=2006"))
    assert "lundi 17 avril 2006" in text and "Lundi de Pâques" in text
    c.post("/admin/services/msa/edit", {"code": "msa", "name": "MSA 43", "default_mode": "walk_in"})
    assert "MSA 43" in page(c.get("/admin/audit"))


def test_a_preview_at_a_booked_time_names_the_counsellor(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    day = next_open_day(3)
    c.post(
        "/manager/appointments?service=anpe",
        {
            "site": "vorey",
            "counsellor": "anpe-le-puy-c2",
            "start": f"{day.isoformat()}T10:00",
            "minutes": "30",
            "citizen_ref": "DE-1",
        },
    )
    text = page(_preview(c, "kiosk-vorey-1", "anpe", f"{day.isoformat()}T10:05"))
    assert "Rendez-vous : l'appel va directement à Conseiller ANPE Le Puy 2" in text
    assert local(day, "10:00")
