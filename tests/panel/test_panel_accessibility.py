"""Accessibility (RGAA / WCAG 2.2 AA) in a real headless Chromium (Debian's, Playwright):
axe-core finds no serious or critical violation on any page the navigation reaches, for each
role, and the main tasks can be done with the keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from panel_helpers import ACCOUNTS, browser_sign_in, next_open_day
from sqlalchemy import select

from pvp.db import Database
from pvp.model import Appointment, CallRecord

pytestmark = pytest.mark.browser

pytest.importorskip("axe_playwright_python", reason="axe-playwright-python is not installed")

# Links that download a file or change something: not pages to audit.
NOT_PAGES = re.compile(r"(\.csv|\.yaml|\.ics|/logout|/events)(\?|$)")
# One page per shape of address (every site's edit form is the same template).
SHAPE = re.compile(r"/(\d+|[a-z0-9.-]+~[a-z0-9.-]+)(?=/|$)")


_sign_in = browser_sign_in


@pytest.fixture
def tab(browser_page: Any) -> Any:
    """The browser tab (the panel conftest's page), short for these many key presses."""
    return browser_page


def _shape(path: str) -> str:
    """``/admin/sites/vorey/edit`` and ``/admin/sites/saugues/edit`` are one page to audit, as
    are ``/admin/holidays?year=2006`` and ``?year=2007`` (a query's values do not count)."""
    path, _, query = path.partition("?")
    parts = path.split("/")
    if len(parts) > 4 and parts[-1] in ("edit", "move", "cancel"):
        parts[-2] = "*"
    keys = sorted(q.split("=")[0] for q in query.split("&") if q)
    return SHAPE.sub("/*", "/".join(parts)) + ("?" + "&".join(keys) if keys else "")


def _crawl(page: Any, base: str, axe_serious: Callable[[Any], list[str]]) -> dict[str, list[str]]:
    """Every page reachable by following the links from the home page, audited once per
    shape; returns {path: violations} for pages with serious or critical ones."""
    todo, seen, found = ["/"], set(), {}
    while todo:
        path = todo.pop(0)
        if _shape(path) in seen:
            continue
        seen.add(_shape(path))
        response = page.goto(base + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        violations = axe_serious(page)
        if violations:
            found[path] = violations
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(href)
            if f"{url.scheme}://{url.netloc}" != base or NOT_PAGES.search(url.path):
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if _shape(target) not in seen:
                todo.append(target)
    found["(pages audited)"] = sorted(seen)  # for the failure message only
    return found


@pytest.mark.parametrize("login", [None, *ACCOUNTS])
def test_every_page_of_every_role_has_no_serious_axe_violation(
    live: str, tab: Any, axe_serious: Callable[[Any], list[str]], login: str | None
) -> None:
    if login is not None:
        _sign_in(tab, live, login)
    found = _crawl(tab, live, axe_serious)
    audited = found.pop("(pages audited)")
    print(f"{login or 'anonymous'}: {len(audited)} pages audited")  # shown with pytest -s
    assert found == {}, (found, audited)
    minimum = {None: 1, "admin": 30, "gestion-anpe": 8, "conseillere": 1, "agent-vorey": 1}
    assert len(audited) >= minimum.get(login, 3), audited


def test_refused_forms_and_confirmations_pass_axe_and_focus_the_summary(
    live: str, tab: Any, axe_serious: Callable[[Any], list[str]]
) -> None:
    _sign_in(tab, live, "admin")
    for form in ("sites", "windows", "queues", "closures"):
        tab.goto(f"{live}/admin/{form}/new")
        tab.click("main form[method=post] button[type=submit]")
        tab.wait_for_load_state()
        assert tab.evaluate("document.activeElement.hasAttribute('data-error-summary')"), form
        assert axe_serious(tab) == [], form
        # The summary's first link leads to a field that names its error (or its group does).
        described = tab.evaluate(
            """() => {
              const link = document.querySelector("[data-error-summary] a");
              const field = document.querySelector(link.getAttribute("href"));
              const holder = field.closest("fieldset") || field;
              const ids = (holder.getAttribute("aria-describedby") || "").split(" ");
              return ids.filter(id => id.endsWith("-error"))
                        .map(id => document.getElementById(id).textContent).join(" ");
            }"""
        )
        assert described, form
    tab.goto(f"{live}/admin/preview?kiosk=kiosk-vorey-1&service=anpe&at=")
    assert tab.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert axe_serious(tab) == []


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took the focus with Tab")


def _enter(page: Any) -> None:
    """Press Enter on a link or in a form, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_manager_books_cancels_and_undoes_with_the_keyboard_only(
    live: str, tab: Any, pdb: Database, axe_serious: Callable[[Any], list[str]]
) -> None:
    _sign_in(tab, live, "gestion-anpe")
    day = next_open_day(3).isoformat()
    # The skip link is the first stop and leads into the page.
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Aller au contenu"
    tab.keyboard.press("Enter")
    _tab_to(tab, "#site")
    tab.keyboard.type("Vorey")  # a closed list picks the option typed
    assert tab.evaluate("document.activeElement.value") == "vorey"
    tab.keyboard.press("Tab")  # the counsellor list shows only Vorey's (Le Puy's agency)
    assert tab.evaluate("document.activeElement.id") == "counsellor"
    visible = tab.eval_on_selector_all(
        "#counsellor option:not([disabled])", "os => os.map(o => o.value)"
    )
    assert "anpe-ambert-c1" not in visible and "anpe-le-puy-c1" in visible
    _tab_to(tab, "#start")
    # The date-time field is Chromium's own widget (its segments follow the browser build's
    # locale, not the page's): its value is set directly, the rest is keys.
    tab.fill("#start", f"{day}T09:30")
    _tab_to(tab, "#citizen_ref")
    tab.keyboard.type("DE-CLAVIER")
    _enter(tab)
    assert "réservé" in tab.inner_text("main"), tab.inner_text("main")
    with pdb.sessions() as session:
        made = session.scalars(select(Appointment)).one()
    assert made.citizen_ref == "DE-CLAVIER"
    # Cancel: a link to a confirmation, confirmed with Enter, then undone.
    _tab_to(tab, f"a[href$='/appointments/{made.id}/cancel']")
    _enter(tab)
    assert axe_serious(tab) == []
    _tab_to(tab, "#confirm-cancel")
    _enter(tab)
    with pdb.sessions() as session:
        assert session.get(Appointment, made.id).status == "cancelled"
    assert axe_serious(tab) == []
    _tab_to(tab, "#undo button")
    _enter(tab)
    assert f"Rendez-vous n°{made.id} rétabli." in tab.inner_text("main")
    with pdb.sessions() as session:
        assert session.get(Appointment, made.id).status == "booked"
    tab.goto(f"{live}/manager/appointments/{made.id}/move")
    assert axe_serious(tab) == []


def test_the_admin_picks_a_service_with_arrow_keys_without_a_reload(live: str, tab: Any) -> None:
    _sign_in(tab, live, "admin")
    tab.goto(f"{live}/manager/")
    tab.evaluate("window.notReloaded = true")
    tab.focus("select#service")
    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("ArrowDown")
    tab.wait_for_timeout(300)
    assert tab.evaluate("window.notReloaded === true")  # still the same document
    assert tab.evaluate("document.activeElement.id") == "service"
    label = tab.evaluate("document.querySelector('label[for=service]').textContent")
    assert label == "Service"
    _tab_to(tab, ".filters button[type=submit]")
    _enter(tab)
    assert "service=" in tab.url


def test_the_navigation_marks_the_current_section(live: str, tab: Any) -> None:
    _sign_in(tab, live, "admin")
    tab.goto(f"{live}/evaluation/")
    current = tab.eval_on_selector_all(
        "header nav [aria-current=page]", "els => els.map(e => e.textContent)"
    )
    assert current == ["Évaluation"]
    tab.goto(f"{live}/admin/sites/")
    assert tab.inner_text("header nav [aria-current=page]") == "Administration"


def test_an_incoming_call_is_announced_to_screen_readers(
    live: str, tab: Any, pdb: Database, axe_serious: Callable[[Any], list[str]]
) -> None:
    _sign_in(tab, live, "conseillere")
    assert tab.get_attribute("#announce", "aria-live") == "assertive"
    assert tab.inner_text("#announce") == ""
    now = datetime.now(UTC)
    with pdb.session() as session:
        session.add(
            CallRecord(
                id="call-announced",
                kiosk_id="kiosk-vorey-1",
                site_id="vorey",
                service_code="anpe",
                queue_id="anpe-le-puy",
                counsellor_id="anpe-le-puy-c1",
                mode="walk_in",
                decision="walk_in",
                pressed_at=now - timedelta(seconds=20),
                offered_at=now - timedelta(seconds=5),
                reason="",
            )
        )
    # A locator wait: the console's CSP forbids the string evaluation wait_for_function uses.
    tab.locator("#announce", has_text="Appel entrant").wait_for()
    assert "borne kiosk-vorey-1 (Vorey)" in tab.inner_text("#announce")
    assert axe_serious(tab) == []


def test_the_route_form_offers_only_the_chosen_services_queues(live: str, tab: Any) -> None:
    _sign_in(tab, live, "admin")
    tab.goto(f"{live}/admin/routes/new")
    tab.focus("#service_code")
    tab.keyboard.type("MSA")
    shown = tab.eval_on_selector_all(
        "#queue_id optgroup:not([disabled]) option", "os => os.map(o => o.value)"
    )
    assert shown == ["msa-43"], shown
    assert tab.eval_on_selector("#queue_id", "s => s.value") == "msa-43"


def test_a_long_list_filters_and_sorts_by_keyboard(
    live: str, tab: Any, axe_serious: Callable[[Any], list[str]]
) -> None:
    _sign_in(tab, live, "admin")
    tab.goto(f"{live}/admin/windows/")
    total = tab.locator("#list tbody tr[data-key]").count()
    _tab_to(tab, "#filter-text")
    tab.keyboard.type("Vorey")
    shown = tab.locator("#list tbody tr[data-key]:not([hidden])")
    assert 0 < shown.count() < total
    assert all("Vorey" in t for t in shown.all_inner_texts())
    assert tab.inner_text("#filter-count") == f"{shown.count()} élément(s) sur {total}"
    # Sort by the "Heures" column, with the keyboard, both ways.
    _tab_to(tab, "th:nth-child(5) button.sort")
    tab.keyboard.press("Enter")
    assert tab.get_attribute("th:nth-child(5)", "aria-sort") == "ascending"
    hours = [
        t.strip()
        for t in tab.locator("#list tbody tr:not([hidden]) td:nth-child(5)").all_inner_texts()
    ]
    assert hours == sorted(hours)
    tab.keyboard.press("Enter")
    assert tab.get_attribute("th:nth-child(5)", "aria-sort") == "descending"
    assert axe_serious(tab) == []


def test_error_pages_and_a_refused_sign_in_pass_axe(
    live: str, tab: Any, axe_serious: Callable[[Any], list[str]]
) -> None:
    tab.goto(f"{live}/login")
    tab.fill("#login", "admin")
    tab.fill("#password", "pas le bon mot de passe")
    tab.click("main button[type=submit]")
    tab.wait_for_load_state()
    assert "Connexion" in tab.inner_text("h1")
    assert axe_serious(tab) == []
    _sign_in(tab, live, "gestion-msa")
    for path, status in (("/admin/nothing/", 403), ("/manager/nothing/", 404)):
        response = tab.goto(live + path)
        assert response is not None and response.status == status, path
        assert axe_serious(tab) == [], path
