"""Panel fixtures: the 2006 plan with one account per role, an app, signed-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from panel_helpers import ACCOUNTS, PASSWORD, Client, Inbox

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Role
from pvp.panel.security import create_user
from pvp.web.app import create_app
from testkit.ports import free_port


@pytest.fixture(scope="session")
def panel_db_file(plan_2006_db_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2006 plan plus one account per role, built once (password hashing is slow)."""
    path = tmp_path_factory.mktemp("panel") / "pvp.sqlite3"
    shutil.copy(plan_2006_db_file, path)
    database = Database(f"sqlite:///{path}")
    with database.session() as session:
        for login, (role, scope) in ACCOUNTS.items():
            email = "agent@vorey.example" if role is Role.SITE_AGENT else ""
            create_user(session, login, PASSWORD, role, scope, email)
    database.engine.dispose()
    return path


@pytest.fixture
def pdb(settings: Settings, panel_db_file: Path) -> Iterator[Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_dir / "pvp.sqlite3"
    shutil.copy(panel_db_file, target)
    database = Database(f"sqlite:///{target}")
    yield database
    database.engine.dispose()


@pytest.fixture
def app(settings: Settings, pdb: Database) -> Flask:
    return create_app(
        settings,
        pdb,
        {
            "TESTING": True,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            "PANEL_SSE_SECONDS": 1.5,
        },
    )


@pytest.fixture
def client(app: Flask) -> Client:
    return Client(app.test_client())


@pytest.fixture
def as_role(app: Flask) -> Callable[[str | None], Client]:
    """A client signed in as one of :data:`ACCOUNTS` (None: anonymous)."""

    def make(login: str | None) -> Client:
        c = Client(app.test_client())
        if login is not None:
            response = c.login(login)
            assert response.status_code == 302, response.get_data(as_text=True)
            c.get("/")  # a page with a form: the token for later POSTs
            c.get(response.headers["Location"])
        return c

    return make


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), and the settings pointing at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.smtp_host, settings.smtp_port = "127.0.0.1", controller.port
    settings.smtp_from = "supervision@pvp.example"
    yield inbox
    controller.stop()


@pytest.fixture
def live(app: Flask, serve: Callable[[Any], str]) -> str:
    """The panel served over real HTTP on 127.0.0.1."""
    return serve(app)


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A fresh context of the session's one Chromium (one Playwright driver per process)."""
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
