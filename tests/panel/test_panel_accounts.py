"""Sessions and accounts: sign-out and new passwords end sessions server-side, a fresh CSRF
token at sign-in, forced and admin-reset passwords, deactivation, ``?next=``, lockout that
an attacker cannot turn against a person, the trusted-proxy setting, and ``pvp user``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from panel_helpers import PASSWORD, Client, page
from sqlalchemy import select

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.model import AuditEntry, CounsellorState, Role, User
from pvp.panel.security import create_user
from pvp.web.app import create_app

NEW_PASSWORD = "un autre mot de passe"


def _copy(c: Client, app: Flask) -> Client:
    """Another browser holding a copy of ``c``'s cookie (and its CSRF token)."""
    other = Client(app.test_client())
    cookie = c.http.get_cookie("session")
    assert cookie is not None
    other.http.set_cookie("session", cookie.value)
    other.token = c.token
    return other


def _status_written(pdb: Database) -> bool:
    with pdb.sessions() as session:
        return session.get(CounsellorState, "anpe-le-puy-c1") is not None


def _actions(pdb: Database, login: str) -> list[str]:
    with pdb.sessions() as session:
        user_id = session.scalars(select(User.id).where(User.login == login)).one()
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.entity == "users", AuditEntry.entity_id == str(user_id))
                .order_by(AuditEntry.id)
            )
        )


def test_a_copied_cookie_no_longer_writes_after_logout(
    as_role: Any, app: Flask, pdb: Database
) -> None:
    c = as_role("conseillere")
    thief = _copy(c, app)
    assert thief.get("/console/").status_code == 200  # the copy works while signed in
    assert c.post("/logout").status_code == 302
    response = thief.post("/console/status", {"status": "available"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not _status_written(pdb)
    assert _actions(pdb, "conseillere")[-1] == "logout"


def test_a_csrf_token_planted_before_sign_in_dies_at_sign_in(client: Client, pdb: Database) -> None:
    client.get("/login")
    planted = client.token
    client.login("conseillere")
    response = client.post("/console/status", {"status": "available", "csrf_token": planted})
    assert response.status_code == 400 and "Jeton de sécurité (CSRF)" in page(response)
    assert not _status_written(pdb)


def test_changing_ones_password_ends_the_other_sessions(
    as_role: Any, app: Flask, pdb: Database
) -> None:
    c = as_role("conseillere")
    other = _copy(c, app)
    wrong = c.post(
        "/account/password",
        {"current": "pas le bon", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 400 and "mot de passe actuel incorrect" in page(wrong)
    mismatch = c.post(
        "/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": "autre chose"}
    )
    assert mismatch.status_code == 400 and "les deux saisies diffèrent" in page(mismatch)
    done = c.post(
        "/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert "Mot de passe changé" in page(c.get(done.headers["Location"]))
    # This session goes on; the copy and the old password do not.
    assert c.get("/console/").status_code == 200
    assert other.get("/console/").status_code == 302
    assert Client(app.test_client()).login("conseillere").status_code == 401
    assert Client(app.test_client()).login("conseillere", NEW_PASSWORD).status_code == 302
    assert "change_password" in _actions(pdb, "conseillere")


def test_a_temporary_password_must_be_changed_before_anything_else(
    app: Flask, pdb: Database
) -> None:
    with pdb.session() as session:
        create_user(session, "nouvel-admin", PASSWORD, Role.REGION_ADMIN, None, "", True)
    c = Client(app.test_client())
    response = c.login("nouvel-admin")
    assert response.headers["Location"].endswith("/account/password")
    text = page(c.get("/account/password"))
    assert "mot de passe de ce compte est provisoire" in text
    assert c.get("/admin/").headers["Location"].endswith("/account/password")
    assert c.get("/api/v1/kiosks").status_code == 403
    c.post("/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert c.get("/admin/").status_code == 200


def test_an_admin_deactivates_reactivates_and_resets_an_account(
    as_role: Any, app: Flask, pdb: Database
) -> None:
    admin = as_role("admin")
    person = as_role("conseillere")
    with pdb.sessions() as session:
        user_id = session.scalars(select(User.id).where(User.login == "conseillere")).one()
    listing = page(admin.get("/admin/users/"))
    assert "conseillere" in listing and "Désactiver" in listing
    done = admin.post(f"/admin/users/{user_id}/deactivate")
    assert done.status_code == 303
    assert "Compte conseillere désactivé" in page(admin.get("/admin/users/"))
    assert person.get("/console/").status_code == 302  # its session ended at once
    assert Client(app.test_client()).login("conseillere").status_code == 401
    admin.post(f"/admin/users/{user_id}/reactivate")
    assert Client(app.test_client()).login("conseillere").status_code == 302
    shown = admin.post(f"/admin/users/{user_id}/reset")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    temporary = re.search(r'<code class="secret">([^<]+)</code>', page(shown)).group(1)
    fresh = Client(app.test_client())
    assert fresh.login("conseillere", temporary).headers["Location"].endswith("/account/password")
    changes = [a for a in _actions(pdb, "conseillere") if a != "login"]
    assert changes == ["deactivate", "reactivate", "reset_password"]
    # An admin does not lock themselves out from this page.
    with pdb.sessions() as session:
        own = session.scalars(select(User.id).where(User.login == "admin")).one()
    admin.post(f"/admin/users/{own}/deactivate")
    assert admin.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("/admin/audit", "/admin/audit"),
        ("//evil.example/x", "/admin/"),
        ("https://evil.example/", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
    ],
)
def test_sign_in_honours_a_safe_next_only(client: Client, target: str, lands_on: str) -> None:
    client.http.get("/login", query_string={"next": target})
    client.get("/login")
    response = client.http.post(
        "/login",
        query_string={"next": target},
        data={"login": "admin", "password": PASSWORD, "csrf_token": client.token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == lands_on


def test_the_sign_in_page_reached_from_a_guarded_page_keeps_next(client: Client) -> None:
    response = client.get("/admin/audit")
    assert "next=%2Fadmin%2Faudit" in response.headers["Location"]
    form = page(client.get(response.headers["Location"]))
    assert re.search(r'action="/login\?next=(%2F|/)admin(%2F|/)audit"', form)


def _from(c: Client, addr: str, password: str) -> int:
    c.http.environ_base["REMOTE_ADDR"] = addr
    return int(c.login("admin", password).status_code)


def test_failures_from_elsewhere_cannot_lock_a_person_out(client: Client) -> None:
    for _ in range(6):
        assert _from(client, "192.0.2.66", "faux") in (401, 429)
    assert _from(client, "192.0.2.66", PASSWORD) == 429
    assert _from(client, "198.51.100.7", PASSWORD) == 302


def test_forwarded_addresses_count_only_behind_a_configured_proxy(
    settings: Settings, pdb: Database
) -> None:
    def attempts(proxies: int) -> list[int]:
        app = create_app(
            settings.model_copy(update={"trusted_proxies": proxies}),
            pdb,
            {"TESTING": True, "SESSION_COOKIE_SECURE": False},
        )
        c = Client(app.test_client())
        c.http.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the proxy
        codes = []
        for n in range(6):
            c.http.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n % 2}"
            codes.append(int(c.login("gestion-msa", "faux").status_code))
        return codes

    # Ignored by default: all six tries come from the proxy's address, the sixth is refused.
    assert attempts(0)[-1] == 429
    pdb_clear(pdb)
    # Behind one trusted proxy: two clients, three tries each, none locked.
    assert attempts(1) == [401] * 6


def pdb_clear(pdb: Database) -> None:
    from sqlalchemy import delete

    from pvp.model import LoginFailure

    with pdb.session() as session:
        session.execute(delete(LoginFailure))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, pdb: Database, settings: Settings) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_DATABASE_URL", pdb.url)


def test_pvp_user_passwd_disable_enable_through_the_audited_service(
    cli_env: None, app: Flask, pdb: Database
) -> None:
    run = CliRunner()
    result = run.invoke(
        main, ["user", "passwd", "conseillere", "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert Client(app.test_client()).login("conseillere", NEW_PASSWORD).status_code == 302
    assert run.invoke(main, ["user", "disable", "conseillere"]).exit_code == 0
    assert "(désactivé)" in run.invoke(main, ["user", "list"]).output
    assert Client(app.test_client()).login("conseillere", NEW_PASSWORD).status_code == 401
    assert run.invoke(main, ["user", "enable", "conseillere"]).exit_code == 0
    changes = [a for a in _actions(pdb, "conseillere") if a != "login"]
    assert changes == ["change_password", "deactivate", "reactivate"]
    with pdb.sessions() as session:
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.entity == "users"))
        assert any(a.startswith("cli:") for a in actors)
    short = run.invoke(main, ["user", "passwd", "conseillere", "--password-stdin"], input="x\n")
    assert short.exit_code == 2 and "trop court" in short.output
    unknown = run.invoke(main, ["user", "disable", "personne"])
    assert unknown.exit_code == 2 and "compte inconnu" in unknown.output


def test_pvp_user_add_temporary_forces_a_change_at_first_sign_in(cli_env: None, app: Flask) -> None:
    result = CliRunner().invoke(
        main,
        ["user", "add", "premier", "--role", "region_admin", "--temporary", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    response = Client(app.test_client()).login("premier")
    assert response.headers["Location"].endswith("/account/password")


def test_the_console_event_stream_ends_with_the_session(settings: Settings, pdb: Database) -> None:
    import time

    app = create_app(
        settings,
        pdb,
        {"TESTING": True, "SESSION_COOKIE_SECURE": False, "PANEL_SSE_SECONDS": 60},
    )
    c = Client(app.test_client())
    c.login("conseillere")
    c.get("/console/")
    stream = c.http.get("/console/events", buffered=False)
    chunks = iter(stream.response)
    assert b"retry" in next(chunks)
    c.post("/logout")
    started = time.monotonic()
    rest = list(chunks)  # ends once the stream sees the session is gone
    assert time.monotonic() - started < 5 and len(rest) <= 3
    stream.close()
