"""The console's video phone: a short-lived SIP credential for the browser, revoked at sign-out.

``POST /console/phone`` (CSRF-checked, counsellors only) issues the credential of
:mod:`pvp.freeswitch.console_users` and answers what JsSIP needs to register over WSS. Each
call replaces the previous credential: the console asks once per page load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import abort, current_app, send_from_directory

from pvp.clock import Clock
from pvp.panel.console import bp
from pvp.panel.security import db, me, settings
from pvp.services import console_credentials

# The console's bundle (JsSIP and web/src/console.js), built by scripts/setup.sh (web/build.mjs).
BUNDLE_DIR = Path(__file__).parent / "static" / "build"
# How often the console registers again: an expired or revoked credential stops it within this.
REGISTER_SECONDS = 120


def wss_url() -> str:
    s = settings()
    return s.console_wss_url or f"wss://{s.sip_host}:{s.sip_wss_port}"


@bp.post("/phone")
def phone() -> Any:
    counsellor_id = me().scope or ""
    clock: Clock = current_app.extensions["pvp.clock"]
    s = settings()
    with db().session() as session:
        issued = console_credentials.issue(session, counsellor_id, s, clock.now(), actor=me().login)
    return {
        "wss_url": wss_url(),
        "uri": f"sip:{issued.user}@{s.sip_domain}",
        "authorization_user": issued.user,
        "password": issued.password,
        "expires_at": issued.expires_at.isoformat(),
        "register_seconds": REGISTER_SECONDS,
    }


@bp.get("/phone.js")
def bundle() -> Any:
    if not (BUNDLE_DIR / "console-phone.js").is_file():
        abort(404, "Le visiophone de la console n'est pas installé (scripts/setup.sh).")
    return send_from_directory(BUNDLE_DIR, "console-phone.js", mimetype="text/javascript")
