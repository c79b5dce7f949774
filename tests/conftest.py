"""Shared fixtures: a real SQLite database in a temporary directory, loaded with a plan."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pvp.config import Settings
from pvp.db import Database
from pvp.plan import load_plan
from pvp.plan_view import load_routing_plan
from pvp.provisioning import apply_plan
from pvp.routing import RoutingPlan
from testkit.chromium_flags import CHROMIUM_ARGS
from testkit.devices import sample_pdf
from testkit.postgres import private_cluster

ROOT = Path(__file__).resolve().parent.parent
PLAN_2006 = ROOT / "provisioning" / "auvergne-2006.yaml"
PANEL_PASSWORD = "mot-de-passe-de-test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Chromium says so (``-m "not browser"`` must leave no browser)."""
    unmarked = [
        item.nodeid
        for item in items
        if "chromium" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("browser") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "drives Chromium without the browser marker: " + ", ".join(unmarked)
        )


@pytest.fixture(scope="session")
def plan_2006_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2006 plan imported once; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("template") / "pvp.sqlite3"
    db = Database(f"sqlite:///{path}")
    with db.session() as session:
        apply_plan(session, load_plan(PLAN_2006), Settings().sip_domain)
    db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def three_page_pdf() -> bytes:
    """A three-page PDF with known texts (kiosk printing, PDF checks)."""
    return sample_pdf()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL cluster for the module (skipped where PostgreSQL is missing)."""
    with private_cluster() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def db(settings: Settings, plan_2006_db_file: Path) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_dir / "pvp.sqlite3"
    shutil.copy(plan_2006_db_file, target)
    database = Database(f"sqlite:///{target}")
    yield database
    database.engine.dispose()


@pytest.fixture
def empty_db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url())
    yield database
    database.engine.dispose()


@pytest.fixture
def plan(db: Database, settings: Settings) -> RoutingPlan:
    with db.sessions() as session:
        return load_routing_plan(session, settings)


# --- A real headless Chromium (Debian's) driven by Playwright; no browser is downloaded. ---

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    executable = next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p), None)
    if not executable or not Path(executable).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1600, "height": 900}, locale="fr-FR")
    yield context.new_page()
    context.close()


@pytest.fixture
def axe_serious() -> Callable[[Any], list[str]]:
    """axe-core's serious and critical accessibility violations on a page."""
    from axe_playwright_python.sync_playwright import Axe

    def run(page: Any) -> list[str]:
        results = Axe().run(page)
        return [
            f"{v['id']}: {v['help']}"
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]

    return run


@pytest.fixture
def artifacts() -> Path:
    """Where tests keep what a person may want to look at (screenshots); not committed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve WSGI apps over real HTTP on 127.0.0.1 (a free port each); stopped cleanly after.

    Werkzeug's threaded server has a clean ``shutdown()``; closing waitress's socket under
    its running loop raises in the server thread.
    """
    from werkzeug.serving import make_server

    servers = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sign_in(db: Database) -> Callable[..., Any]:
    """Sign a Flask test client in as a panel user of ``role`` (created on first use)."""
    from pvp.model import Role
    from pvp.panel.security import create_user

    logins: dict[tuple[str, str | None], str] = {}

    def sign(client: Any, role: str = "region_admin", scope: str | None = None) -> Any:
        if (role, scope) not in logins:
            login = f"{role.replace('_', '-')}-{len(logins)}"
            with db.session() as session:
                create_user(session, login, PANEL_PASSWORD, Role(role), scope, "")
            logins[(role, scope)] = login
        # Through the real sign-in form, CSRF token included, as a browser would.
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, "no CSRF token on the sign-in page"
        login = logins[(role, scope)]
        answer = client.post(
            "/login",
            data={"login": login, "password": PANEL_PASSWORD, "csrf_token": token.group(1)},
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)
        # Later JSON POSTs carry the session's CSRF token in a header, as the console's do.
        page = client.get("/", follow_redirects=True).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if token:
            client.environ_base["HTTP_X_CSRFTOKEN"] = token.group(1)
        return client

    return sign
