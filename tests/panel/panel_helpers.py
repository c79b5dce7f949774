"""Helpers of the panel tests: accounts, a CSRF-aware client, dates in the windows."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta
from email import message_from_bytes
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from pvp.calendar import french_holidays
from pvp.model import Role

PASSWORD = "un mot de passe sûr"
# login -> (role, scope)
ACCOUNTS: dict[str, tuple[Role, str | None]] = {
    "admin": (Role.REGION_ADMIN, None),
    "gestion-anpe": (Role.SERVICE_MANAGER, "anpe"),
    "gestion-msa": (Role.SERVICE_MANAGER, "msa"),
    "conseillere": (Role.COUNSELLOR, "anpe-le-puy-c1"),
    "agent-vorey": (Role.SITE_AGENT, "vorey"),
    "agent-langeac": (Role.SITE_AGENT, "langeac"),
}
TZ = ZoneInfo("Europe/Paris")
# The Vorey site's edit form as the 2006 plan fills it (no phone).
VOREY_SITE = {
    "id": "vorey",
    "department_code": "43",
    "community": "Emblavez",
    "commune": "Vorey",
    "host_place": "Mairie",
    "agent_email": "accueil@vorey.example",
}
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Client:
    """A test client that remembers its CSRF token, as a browser keeps the page's."""

    def __init__(self, flask_client: FlaskClient) -> None:
        self.http = flask_client
        self.token = ""

    def get(self, url: str, **kw: Any) -> Any:
        response = self.http.get(url, **kw)
        html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        found = TOKEN.search(html)
        if found:
            self.token = found.group(1)
        return response

    def post(
        self, url: str, data: dict[str, Any] | None = None, csrf: bool = True, **kw: Any
    ) -> Any:
        if not self.token:
            self.get("/login")
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.token)
        return self.http.post(url, data=body, **kw)

    def login(self, login: str, password: str = PASSWORD) -> Any:
        self.get("/login")
        return self.post("/login", {"login": login, "password": password})


def next_open_day(weekday: int, after: date | None = None) -> date:
    """The next ``weekday`` (0 = Monday) after ``after`` that is not a public holiday."""
    day = (after or date.today()) + timedelta(days=1)
    while day.weekday() != weekday or day in french_holidays():
        day += timedelta(days=1)
    return day


def local(day: date, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def page(response: Any) -> str:
    """A response's text as a person reads it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


class Inbox:
    """What a real SMTP server (aiosmtpd, the ``smtp`` fixture) received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def browser_sign_in(page: Any, base: str, login: str) -> None:
    """Sign in through the login page of a real browser."""
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
