"""French throughout: phone numbers as people write them, dates, codes, the audit log, YAML
errors and the switch's errors told in French; errors tied to their fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from panel_helpers import VOREY_SITE, page
from sqlalchemy import select

from pvp.db import Database
from pvp.documents.chat import ChatTransport
from pvp.documents.service import TransportError
from pvp.freeswitch.esl import ESLClient
from pvp.model import AuditEntry, ClosureDay, KioskHeartbeat, Site
from pvp.panel.forms import french_phone
from pvp.wire.messages import Sealer
from pvp.yamlload import load_yaml


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("04-71-00-00-00", "04 71 00 00 00"),
        ("04.71.00.00.00", "04 71 00 00 00"),
        ("0471000000", "04 71 00 00 00"),
        (" 04 71 00 00 00 ", "04 71 00 00 00"),
        ("+33 (0)4 71 00 00 00", "+33 4 71 00 00 00"),
        ("+33 4 71 00 00 00", "+33 4 71 00 00 00"),
        ("0033 4 71 00 00 00", "+33 4 71 00 00 00"),
        ("3949", "3949"),
    ],
)
def test_usual_french_phone_formats_are_accepted_and_normalized(typed: str, stored: str) -> None:
    assert french_phone(typed) == stored


def test_a_site_phone_with_dashes_is_saved_and_the_form_tells_the_truth(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    form = page(c.get("/admin/sites/vorey/edit"))
    assert "le téléphone de l'agent s'affiche sur l'écran des bornes du site" in form
    assert "sans nouveau paquet d'installation" in form
    r = c.post("/admin/sites/vorey/edit", VOREY_SITE | {"agent_phone": "04-71-00-00-00"})
    assert r.status_code == 302
    with pdb.sessions() as session:
        assert session.get(Site, "vorey").agent_phone == "04 71 00 00 00"
    r = c.post("/admin/sites/vorey/edit", VOREY_SITE | {"agent_phone": "04-71"})
    assert r.status_code == 400
    assert "« Téléphone de l'agent » : numéro de téléphone invalide" in page(r)
    with pdb.sessions() as session:
        assert session.get(Site, "vorey").agent_phone == "04 71 00 00 00"


def test_an_empty_date_is_obligatory_and_a_wrong_one_invalid(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    closure = {"site_id": "", "service_code": "", "reason": "Travaux"}
    r = c.post("/admin/closures/new", closure | {"first_day": "", "last_day": "2030-01-02"})
    assert r.status_code == 400 and "« Premier jour » : date obligatoire" in page(r)
    r = c.post("/admin/closures/new", closure | {"first_day": "demain", "last_day": "2030-01-02"})
    text = page(r)
    assert r.status_code == 400 and "« Premier jour » :" in text
    assert "date obligatoire" not in text and "Not a valid" not in text
    with pdb.sessions() as session:
        assert session.scalars(select(ClosureDay).where(ClosureDay.reason == "Travaux")).all() == []


def test_errors_are_linked_to_their_fields_and_summarized_first(as_role: Any) -> None:
    r = as_role("admin").post("/admin/sites/vorey/edit", VOREY_SITE | {"commune": ""})
    text = page(r)
    summary = text.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    assert 'href="#commune"' in summary and "« Commune » : ce champ est obligatoire" in summary
    assert 'aria-describedby="commune-error"' in text and 'aria-invalid="true"' in text
    assert 'id="commune-error"' in text


def test_codes_are_told_in_french(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    text = page(c.get("/admin/windows/"))
    assert "wed,thu" not in text and "mercredi, jeudi" in text
    text = page(
        c.get(
            "/admin/preview",
            query_string={"kiosk": "kiosk-vorey-1", "service": "anpe", "at": "2006-11-08T10:00"},
        )
    )
    assert "Décision : sur rendez-vous seulement · site Vorey" in text
    assert "Décision : appointment" not in text
    assert "walk_in" not in page(c.get("/admin/services/"))


def test_the_audit_log_reads_as_sentences(as_role: Any, pdb: Database) -> None:
    c = as_role("admin")
    c.post(
        "/admin/sites/vorey/edit",
        VOREY_SITE | {"commune": "Vorey-sur-Arzon", "host_place": "Salle des fêtes"},
    )
    closure = {"site_id": "", "service_code": "", "reason": "Travaux"}
    c.post("/admin/closures/new", closure | {"first_day": "2030-01-02", "last_day": "2030-01-03"})
    with pdb.sessions() as session:
        ident = session.scalars(select(ClosureDay.id).where(ClosureDay.reason == "Travaux")).one()
    c.post(f"/admin/closures/{ident}/delete")
    text = page(c.get("/admin/audit"))
    assert "<td>modification</td><td>site vorey</td>" in text
    assert "<strong>commune</strong> : Vorey → Vorey-sur-Arzon" in text
    assert "<strong>lieu d'accueil</strong> : " in text and "→ Salle des fêtes" in text
    assert "<strong>communauté de communes</strong>" not in text.split("site vorey")[1][:300]
    assert "<td>suppression</td><td>fermeture locale" in text
    assert "<strong>premier jour</strong> : 02/01/2030" in text
    assert '{"' not in text and ">delete<" not in text
    only = page(c.get("/admin/audit", query_string={"action": "delete"}))
    assert only.count('<tr data-action="') == only.count('<tr data-action="delete"') == 1
    with pdb.sessions() as session:
        assert session.scalars(select(AuditEntry)).first() is not None


def test_yaml_errors_are_told_in_french_with_their_line(as_role: Any) -> None:
    r = as_role("admin").post("/admin/plan", {"text": "name: essai\nsites:\n\t- id: x\n"})
    text = page(r)
    assert r.status_code == 400
    assert "YAML invalide (ligne 3, colonne 1) : caractère interdit (tabulation ?" in text
    assert "found character" not in text
    r = as_role("admin").post("/admin/plan", {"text": "name: 'essai\n"})
    assert "guillemet ouvert jamais fermé" in page(r)


def test_a_switch_that_is_not_connected_is_told_in_french() -> None:
    client = ESLClient("127.0.0.1", 9, "ClueCon", timeout=1)  # never connected
    transport = ChatTransport(client.api, "pvp.test", Sealer("clé de test"))
    with pytest.raises(TransportError) as caught:
        transport.send("kiosk-vorey-1", "{}")
    assert str(caught.value) == "commutateur injoignable (pas de connexion à FreeSWITCH)"


def test_the_printer_is_described_in_french_on_the_supervision_page(
    as_role: Any, pdb: Database
) -> None:
    now = datetime.now(UTC)
    beats = {
        "kiosk-vorey-1": {"state": "idle", "reasons": ["none"]},
        "kiosk-cunlhat-1": {"state": "stopped", "reasons": ["media-jam-error", "cover-open"]},
    }
    with pdb.session() as session:
        for kiosk, printer in beats.items():
            session.add(
                KioskHeartbeat(kiosk_id=kiosk, received_at=now, payload={"printer": printer})
            )
    text = page(as_role("admin").get("/supervision/"))
    vorey = text.split('data-kiosk="kiosk-vorey-1"', 1)[1].split("</tr>", 1)[0]
    cunlhat = text.split('data-kiosk="kiosk-cunlhat-1"', 1)[1].split("</tr>", 1)[0]
    assert "prête" in vorey and "idle" not in vorey and "none" not in vorey
    assert "arrêtée" in cunlhat and "(bourrage papier, capot de l'imprimante ouvert)" in cunlhat
    assert "media-jam" not in cunlhat


@pytest.mark.parametrize(
    ("change", "french"),
    [
        (
            lambda raw: raw["sites"][1].update(routes={"anpe": {"queue": "x"}}),
            "file inconnue : 'x'",
        ),
        (lambda raw: raw["sites"][0].pop("commune"), "commune : champ obligatoire"),
        (lambda raw: raw["sites"][0].update(couleur="bleu"), "couleur : champ inconnu"),
        (lambda raw: raw["sites"][0].update(services=["anpe", "anpe"]), "figure deux fois"),
        (lambda raw: raw["counsellors"][0].update(agency="nulle"), "agence inconnue : 'nulle'"),
    ],
)
def test_plan_problems_are_told_in_french(
    as_role: Any, pdb: Database, change: Any, french: str
) -> None:
    c = as_role("admin")
    raw = load_yaml(c.get("/admin/plan.yaml").get_data(as_text=True))
    change(raw)
    r = c.post("/admin/plan", {"text": yaml.safe_dump(raw, allow_unicode=True)})
    problems = page(r).split('id="problems"', 1)[1].split("</ul>", 1)[0]
    assert r.status_code == 400 and french in problems, problems
    assert not re.search(r"\b(unknown|required|Extra|listed|Field)\b", problems), problems


@pytest.mark.parametrize(
    ("login", "shown"),
    [
        ("gestion-msa", "MSA de la Haute-Loire"),
        ("agent-vorey", "Vorey"),
        ("conseillere", "Conseillère ANPE Le Puy 1"),
    ],
)
def test_the_header_names_the_scope(as_role: Any, login: str, shown: str) -> None:
    home = page(as_role(login).get("/", follow_redirects=True))
    who = home.split('class="who">', 1)[1].split("<form", 1)[0]
    assert f"· {shown})" in who, who
