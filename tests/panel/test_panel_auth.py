"""Accounts: sign-in, throttling, cookies, CSRF, the audit log, and ``pvp user add``."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from panel_helpers import PASSWORD, Client, page
from sqlalchemy import func, select

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.model import AuditEntry, CounsellorState, LoginFailure, User
from pvp.web.app import create_app


def test_given_a_good_password_when_signing_in_then_the_role_home_opens(client: Client) -> None:
    response = client.login("admin")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")
    assert "Administration régionale" in page(client.get("/admin/"))


def test_given_a_wrong_password_then_refused_in_french_and_counted(
    client: Client, pdb: Database
) -> None:
    response = client.login("admin", "mauvais mot de passe")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in page(response)
    with pdb.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_given_an_unknown_login_then_the_same_refusal(client: Client) -> None:
    response = client.login("personne", PASSWORD)
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in page(response)


def test_given_five_failures_then_even_the_right_password_is_throttled(client: Client) -> None:
    for _ in range(5):
        assert client.login("admin", "faux").status_code == 401
    response = client.login("admin", PASSWORD)
    assert response.status_code == 429
    assert "Trop d'essais de connexion" in page(response)


def test_given_empty_fields_then_each_field_is_named(client: Client) -> None:
    client.get("/login")
    response = client.post("/login", {"login": "", "password": ""})
    assert response.status_code == 400
    text = page(response)
    assert "« Identifiant » :" in text and "« Mot de passe » :" in text


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("conseillere")
    response = c.post("/console/status", {"status": "available"}, csrf=False)
    assert response.status_code == 400
    assert "Jeton de sécurité (CSRF)" in page(response)
    response = c.post("/console/status", {"status": "available", "csrf_token": "faux"})
    assert response.status_code == 400
    with pdb.sessions() as session:
        assert session.get(CounsellorState, "anpe-le-puy-c1") is None


def test_login_form_itself_needs_the_csrf_token(client: Client) -> None:
    response = client.post("/login", {"login": "admin", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400


def test_session_cookie_is_secure_httponly_and_lax_by_default(
    settings: Settings, pdb: Database
) -> None:
    app: Flask = create_app(settings, pdb, {"TESTING": True})
    c = Client(app.test_client())
    c.get("/login")
    cookie = c.http.get_cookie("session")
    assert cookie is not None
    assert cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_logout_ends_the_session(as_role: Any) -> None:
    c = as_role("admin")
    assert c.post("/logout").status_code == 302
    assert c.get("/admin/").status_code == 302


def test_a_deactivated_account_is_signed_out_at_its_next_request(
    as_role: Any, pdb: Database
) -> None:
    c = as_role("admin")
    with pdb.session() as session:
        session.scalars(select(User).where(User.login == "admin")).one().active = False
    response = c.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_in_is_in_the_audit_log(client: Client, pdb: Database) -> None:
    client.login("admin")
    with pdb.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "login")).one()
        assert entry.actor == "admin"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, pdb: Database, settings: Settings) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_DATABASE_URL", pdb.url)


def test_pvp_user_add_creates_an_admin_from_stdin(cli_env: None, pdb: Database) -> None:
    result = CliRunner().invoke(
        main,
        ["user", "add", "premier", "--role", "region_admin", "--password-stdin"],
        input="un mot de passe long\n",
    )
    assert result.exit_code == 0, result.output
    with pdb.sessions() as session:
        user = session.scalars(select(User).where(User.login == "premier")).one()
        assert user.role == "region_admin" and user.password_hash.startswith("scrypt:")
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "users", AuditEntry.action == "create")
        ).all()
        assert any(a.after and a.after["login"] == "premier" for a in audit)
        assert all("password_hash" not in (a.after or {}) for a in audit)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "service_manager"], "demande un périmètre"),
        (["--role", "service_manager", "--scope", "poste"], "périmètre inconnu"),
        (["--role", "counsellor", "--scope", "nobody"], "périmètre inconnu"),
        (["--role", "region_admin", "--scope", "anpe"], "n'a pas de périmètre"),
    ],
)
def test_pvp_user_add_refuses_a_bad_scope(cli_env: None, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        main, ["user", "add", "x", *args, "--password-stdin"], input="un mot de passe long\n"
    )
    assert result.exit_code == 2
    assert message in result.output


def test_pvp_user_add_refuses_a_short_password_and_a_taken_login(cli_env: None) -> None:
    short = CliRunner().invoke(
        main, ["user", "add", "y", "--role", "region_admin", "--password-stdin"], input="court\n"
    )
    assert short.exit_code == 2 and "trop court" in short.output
    taken = CliRunner().invoke(
        main,
        ["user", "add", "admin", "--role", "region_admin", "--password-stdin"],
        input="un mot de passe long\n",
    )
    assert taken.exit_code == 2 and "existe déjà" in taken.output


@pytest.mark.parametrize(
    "path",
    ["/login", "/admin/", "/api/v1/kiosks", "/api/v1/health", "/nowhere", "/static/panel.js"],
)
def test_every_response_carries_the_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    response.close()
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_each_page_gets_its_own_script_nonce(as_role: Any) -> None:
    c = as_role("conseillere")
    first, second = c.get("/console/"), c.get("/console/")
    nonces = [
        r.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    assert f'<script nonce="{nonces[1]}">' in second.get_data(as_text=True)


@pytest.mark.parametrize("login", ["pvp", "cli", "PVP", "kiosk-vorey-1"])
def test_pvp_user_add_refuses_a_login_the_system_uses(cli_env: None, login: str) -> None:
    result = CliRunner().invoke(
        main,
        ["user", "add", login, "--role", "region_admin", "--password-stdin"],
        input="un mot de passe long\n",
    )
    assert result.exit_code == 2 and "réservé" in result.output
