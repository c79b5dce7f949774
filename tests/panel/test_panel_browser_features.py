"""The routing view, the convocations and the staffing section in Debian's headless Chromium
(Playwright), each task done by the role that does it, with axe-core on every new page (0
serious or critical). The routing view and the evaluation page are photographed at 1280 px
into docs/img/ for docs/panel.md and the README."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from panel_helpers import PASSWORD, Inbox, local, next_open_day
from sqlalchemy import select
from test_panel_staffing import seed_vorey_msa

from pvp.config import Settings
from pvp.convocations import send_notices
from pvp.db import Database
from pvp.model import CitizenContact, CounsellorState, RouteRule

pytestmark = pytest.mark.browser

# The documentation's pictures are refreshed on demand (PVP_DOCS_SCREENSHOTS=1); a plain run
# leaves the work tree as it was.
DOCS_IMG = (
    Path(__file__).resolve().parents[2] / "docs" / "img"
    if os.environ.get("PVP_DOCS_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "pvp-screenshots"
)


@pytest.fixture
def live(app: Flask, serve: Any) -> str:
    return str(serve(app))


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    """A page 1280 px wide, in French, as the documentation's screenshots show it."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _sign_in(page: Any, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _axe_clean(page: Any, axe_serious: Any, context: str | None = None) -> None:
    if context is None:
        assert axe_serious(page) == [], page.url
        return
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, context=context).response["violations"]
    assert [v["id"] for v in found if v.get("impact") in ("serious", "critical")] == []


def test_a_service_manager_sets_who_answers_msa_at_vorey(
    live: str, tab: Any, pdb: Database, axe_serious: Any
) -> None:
    page = tab
    _sign_in(page, live, "gestion-msa")
    page.click("header >> text=Routage")
    page.wait_for_load_state()
    row = page.locator("#pairs tr", has_text="Vorey")
    assert "aucun membre connecté et disponible" in row.inner_text()
    _axe_clean(page, axe_serious)
    row.get_by_role("link", name="Modifier").click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Qui répond à MSA de la Haute-Loire à Vorey"
    assert page.locator("#queue_id option").all_inner_texts() == [
        "MSA 43 - permanence (msa-43)",
        "nouvelle file…",
    ]
    assert "Par défaut 20 s" in page.inner_text("#no_answer_timeout_seconds-hint")
    _axe_clean(page, axe_serious)
    # Nobody ticked: refused, and the page says why.
    page.select_option("#queue_id", "__nouvelle__")
    page.fill("#id", "msa-vorey")
    page.fill("#name", "MSA Vorey")
    for box in page.locator("#members input[type=checkbox]").all():
        box.uncheck()
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "personne ne pourrait répondre" in page.inner_text("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    _axe_clean(page, axe_serious)
    # One counsellor, a longer ring: published, with the warning that nobody is available.
    page.check("#members input[value='msa-43-c2']")
    page.fill("#no_answer_timeout_seconds", "30")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Publié : la file « MSA Vorey » répond à MSA de la Haute-Loire à Vorey" in main
    assert "aucun des 1 membres de la file n'est connecté et disponible" in main
    with pdb.sessions() as session:
        route = session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == "msa")
        ).one()
        assert route.queue_id == "msa-vorey"
    # The counsellor comes online: the view says the route is ready.
    with pdb.session() as session:
        session.merge(
            CounsellorState(counsellor_id="msa-43-c2", console_status="available", registered=True)
        )
    page.goto(f"{live}/routing/vorey/msa")
    assert "1 membre, 1 connecté et disponible" in page.inner_text("#state")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / "routing-view.png"), full_page=True)


def test_a_manager_convokes_a_citizen_who_gets_the_mail(
    live: str, tab: Any, pdb: Database, settings: Settings, smtp: Inbox, axe_serious: Any
) -> None:
    page = tab
    day = next_open_day(2)
    _sign_in(page, live, "gestion-anpe")
    page.select_option("#site", "vorey")
    page.select_option("#counsellor", "anpe-le-puy-c1")
    page.fill("#start", f"{day.isoformat()}T10:00")
    page.click("form[action*='/manager/appointments'] button[type=submit]")
    page.wait_for_load_state()
    page.locator("#appointments tr", has_text="Vorey").first.get_by_role(
        "link", name="Convoquer"
    ).click()
    page.wait_for_load_state()
    assert "effacées 90 jours après le rendez-vous" in page.inner_text("#retention")
    _axe_clean(page, axe_serious)
    page.fill("#name", "M. Durand")
    page.click("main button[type=submit]")  # neither e-mail nor phone
    page.wait_for_load_state()
    assert "indiquez une adresse e-mail ou un téléphone" in page.inner_text("#error-summary")
    assert page.get_attribute("#phone", "aria-describedby") == "phone-hint phone-error"
    assert page.get_attribute("#phone", "aria-invalid") == "true"
    page.fill("#email", "durand@example.fr")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "l'e-mail part dans les minutes qui viennent" in page.inner_text("main")
    assert "Aucun envoi pour l'instant." in page.inner_text("#notices")
    # The scheduled job's round: the citizen receives the convocation; the page shows it.
    sent = send_notices(pdb, settings, local(day, "10:00") - timedelta(days=3))
    assert [n.kind for n in sent] == ["convocation"]
    assert smtp.messages[0][0] == ["durand@example.fr"]
    page.reload()
    assert "envoyé le" in page.inner_text("#notices")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger la convocation (PDF)").click()
    assert download.value.suggested_filename.startswith("convocation-")
    _axe_clean(page, axe_serious)
    with pdb.sessions() as session:
        assert session.scalars(select(CitizenContact)).one().name == "M. Durand"


def test_the_region_admin_reads_the_staffing_on_the_evaluation_page(
    live: str, tab: Any, pdb: Database, axe_serious: Any
) -> None:
    seed_vorey_msa(pdb)
    page = tab
    _sign_in(page, live, "admin")
    page.goto(f"{live}/evaluation/?year=2006&site=vorey&service=msa")
    section = page.locator("#staffing")
    assert "ven (4e) 09:00–12:00" in section.inner_text()
    page.fill("#cible", "60")
    page.fill("#part", "90")
    page.click("#staffing button[type=submit]")
    page.wait_for_load_state()
    caption = page.inner_text("#staffing-table caption")
    assert caption == "Objectif : 90 % des appelants servis en 1 min 00 s au plus"
    cells = page.locator("#staffing-table tbody tr").first.locator("td").all_inner_texts()
    assert cells[:6] == [
        "Vorey",
        "MSA de la Haute-Loire",
        "ven (4e) 09:00–12:00",
        "36",
        "72",
        "2,00",
    ]
    _axe_clean(page, axe_serious, "#staffing")
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter les effectifs en CSV").click()
    assert download.value.suggested_filename == "effectifs-pvp-2006.csv"
    page.screenshot(path=str(DOCS_IMG / "evaluation.png"), full_page=True)
