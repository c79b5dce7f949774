"""The panel in a real headless Chromium (Debian's, driven by Playwright; no downloaded
browser): an admin's edit changes the preview, a manager's booking changes the routing, a
counsellor's status reaches the dispatcher's table. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from panel_helpers import PASSWORD, browser_sign_in, next_open_day
from sqlalchemy import select

from pvp.db import Database
from pvp.model import CounsellorState, OpeningWindow, RouteRule

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Debian's chromium at {CHROMIUM} "
        "(apt-get install chromium; see packages.debian)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the playwright Python package"
)


_sign_in = browser_sign_in


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_an_admin_edits_a_route_window_and_the_preview_changes(
    live: str, browser_page: Any, pdb: Database
) -> None:
    page = browser_page
    _sign_in(page, live, "admin")
    at = f"{next_open_day(2).isoformat()}T10:00"
    preview = f"{live}/admin/preview?kiosk=kiosk-vorey-1&service=anpe&at={at}"
    page.goto(preview)
    assert page.get_attribute("#decision", "data-kind") == "appointment_required"
    _shot(page, "admin-preview-before")
    with pdb.sessions() as session:
        route = session.scalars(
            select(RouteRule).where(RouteRule.site_id == "vorey", RouteRule.service_code == "anpe")
        ).one()
        window = session.scalars(
            select(OpeningWindow).where(OpeningWindow.route_id == route.id)
        ).one()
    page.goto(f"{live}/admin/windows/{window.id}/edit")
    page.select_option("#mode", "walk_in")
    page.fill("#end_time", "11:30")
    _shot(page, "admin-window-edit")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "Enregistré" in page.inner_text("main")
    page.goto(preview)
    assert page.get_attribute("#decision", "data-kind") == "walk_in"
    assert "Permanence ouverte" in page.inner_text("#decision")
    _shot(page, "admin-preview-after")


@pytest.mark.browser
def test_a_manager_books_and_the_routing_goes_to_that_counsellor(
    live: str, browser_page: Any
) -> None:
    page = browser_page
    day = next_open_day(3).isoformat()
    query = f"{live}/api/v1/route?kiosk=kiosk-vorey-1&service=anpe&at={day}T09:40"
    # The API answers only people signed in (or kiosks): ask with the browser's own session.
    assert page.request.get(query).status == 401
    _sign_in(page, live, "gestion-anpe")
    before = page.request.get(query).json()
    assert before["decision"] == "appointment_required"
    page.select_option("#site", "vorey")
    page.select_option("#counsellor", "anpe-le-puy-c2")
    page.fill("#start", f"{day}T09:30")
    page.fill("#minutes", "30")
    page.fill("#citizen_ref", "DE-2006")
    page.click("form[action*='/manager/appointments'] button[type=submit]")
    page.wait_for_load_state()
    assert "réservé" in page.inner_text("main")
    _shot(page, "manager-booked")
    after = page.request.get(query).json()
    assert after["decision"] == "appointment" and after["counsellor"] == "anpe-le-puy-c2"


@pytest.mark.browser
def test_a_counsellor_goes_available_and_the_state_says_so(
    live: str, browser_page: Any, pdb: Database
) -> None:
    page = browser_page
    _sign_in(page, live, "conseillere")
    assert page.get_attribute("#status", "data-status") == "offline"
    page.click("#status-available")
    page.wait_for_load_state()
    page.wait_for_selector("#status[data-status=available]")
    with pdb.sessions() as session:
        state = session.get(CounsellorState, "anpe-le-puy-c1")
        assert state is not None and state.console_status == "available"
    # The live stream reports a change made elsewhere (here: the switch registers the phone).
    with pdb.session() as session:
        session.get(CounsellorState, "anpe-le-puy-c1").registered = True
    # A selector, not wait_for_function: the page's CSP refuses evaluating strings.
    page.wait_for_selector("#registered:text-is('enregistré')")
    _shot(page, "counsellor-available")


def test_artifacts_are_not_committed() -> None:
    ignored = (ARTIFACTS.parent / ".gitignore").read_text().splitlines()
    assert "test-artifacts/" in ignored


@pytest.mark.browser
def test_the_pages_work_under_the_content_security_policy(
    live: str, browser_page: Any, pdb: Database
) -> None:
    """No page breaks any rule of its CSP, and a deletion still asks first (from panel.js)."""
    page = browser_page
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: violations.append(str(e)))
    _sign_in(page, live, "admin")
    for path in ("/admin/", "/admin/closures/", "/manager/", "/supervision/", "/evaluation/"):
        answer = page.goto(live + path)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(f"{live}/admin/closures/")
    page.click("tr[data-key] form button[type=submit]")
    page.wait_for_timeout(300)
    assert asked and asked[0].startswith("Supprimer")
    from pvp.model import ClosureDay

    with pdb.sessions() as session:
        assert session.scalars(select(ClosureDay)).first() is not None  # dismissed: kept
    _sign_in(page, live, "conseillere")  # the console's script runs under the nonce
    page.wait_for_selector("#status[data-status=offline]")
    assert violations == []


@pytest.mark.browser
def test_a_first_admin_changes_the_temporary_password_then_deactivates_an_account(
    live: str, browser_page: Any, pdb: Database
) -> None:
    """run.sh's first admin, in Chromium: the temporary password must be changed first."""
    from pvp.model import Role
    from pvp.panel.security import create_user

    with pdb.session() as session:
        create_user(session, "premier", PASSWORD, Role.REGION_ADMIN, None, "", True)
    page = browser_page
    page.goto(f"{live}/supervision/")  # a guarded page: sign-in, then back here
    page.fill("#login", "premier")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/account/password")
    assert "provisoire" in page.inner_text("main")
    page.fill("#current", PASSWORD)
    page.fill("#new", "un nouveau mot de passe")
    page.fill("#confirm", "un nouveau mot de passe")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "Mot de passe changé" in page.inner_text("main")
    page.goto(f"{live}/admin/users/")
    page.click("button[aria-label='Désactiver : agent-vorey']")
    page.wait_for_load_state()
    assert "Compte agent-vorey désactivé" in page.inner_text("main")
    _shot(page, "admin-accounts")
