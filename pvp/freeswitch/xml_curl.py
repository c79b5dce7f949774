"""mod_xml_curl handlers: FreeSWITCH asks the control plane for its directory and dialplan.

FreeSWITCH POSTs form fields (``section``, ``key_value``, ``user``, ``domain``, and for the
dialplan every channel variable as ``variable_*``) with HTTP basic auth. Answers are XML
documents; whatever is unknown or malformed gets ``<result status="not found"/>`` (FreeSWITCH
then falls through to the static files) and a log line — never an error page.

That includes a look-up of a user PVP does not know, except to authenticate one: FreeSWITCH
then reads the static directory, which ``pvp serve`` renders again on every plan change (see
:mod:`pvp.freeswitch.refresh`), so a deleted device is missing there too. Authentication of an
unknown user gets a decoy instead (see :func:`pvp.freeswitch.directory.decoy_user`).
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any

from flask import Blueprint, Response, current_app, request

from pvp.clock import Clock
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch import console_users, dialplan
from pvp.freeswitch.authguard import AuthGuard
from pvp.freeswitch.directory import (
    DECOY_ID,
    KIOSK_CONTEXT,
    DirectoryUser,
    all_users,
    console_user,
    decoy_user,
    domain_element,
)
from pvp.freeswitch.xmldoc import document, not_found, to_bytes
from pvp.model import Counsellor
from pvp.plan_view import PlanCache, queue_max_waits
from pvp.routing import RoutingError, RoutingPlan, decide
from pvp.wire.channel import Role, Var

log = logging.getLogger("pvp.freeswitch.xml_curl")

xml_curl = Blueprint("freeswitch", __name__, url_prefix="/freeswitch")

XML = "text/xml"
# Directory look-ups FreeSWITCH makes for a user (registration, call, originate, MESSAGE).
USER_ACTIONS = frozenset({"sip_auth", "user_call", "message-count", "user_exists", ""})


def _xml(body: bytes) -> Response:
    return Response(body, status=200, mimetype=XML)


def _not_found(why: str, *args: Any) -> Response:
    log.info("not found: " + why, *args)
    return _xml(not_found())


def _settings() -> Settings:
    return current_app.extensions["pvp.settings"]


def _expected_credentials() -> tuple[bytes, bytes]:
    # Read once per app: the password may live in the data dir's secrets file.
    cached = current_app.extensions.get("pvp.xml_curl_credentials")
    if cached is None:
        settings = _settings()
        cached = (settings.xml_curl_user.encode(), settings.secret("xml_curl_password").encode())
        current_app.extensions["pvp.xml_curl_credentials"] = cached
    return cached


@xml_curl.before_request
def _check_basic_auth() -> Response | None:
    user, password = _expected_credentials()
    auth = request.authorization
    if (
        auth is None
        or auth.type != "basic"
        or not hmac.compare_digest((auth.username or "").encode(), user)
        or not hmac.compare_digest((auth.password or "").encode(), password)
    ):
        log.warning("refused a %s request without valid credentials", request.path)
        return Response(
            "", status=401, headers={"WWW-Authenticate": 'Basic realm="pvp-freeswitch"'}
        )
    return None


@xml_curl.post("/directory")
def directory() -> Response:
    settings = _settings()
    form = request.form
    if form.get("section") != "directory":
        return _not_found("directory request for section %r", form.get("section"))
    domain = form.get("domain") or form.get("key_value") or ""
    if domain != settings.sip_domain:
        return _not_found("directory request for foreign domain %r", domain)
    user_id = form.get("user", "")
    action = form.get("action", "")
    purpose = form.get("purpose", "")
    cache_ms = settings.directory_cache_ms
    if not user_id:
        # Domain look-ups (profile start, gateways, network lists): the domain, no user.
        if purpose in ("gateways", "network-list"):
            return _not_found("directory %s request", purpose)
        return _domain_answer(settings, [], cache_ms)
    if action not in USER_ACTIONS:
        return _not_found("directory action %r for %r", action, user_id)
    guard: AuthGuard = current_app.extensions["pvp.sip_guard"]
    if action == "sip_auth" and guard.blocked(form.get("ip", "")) and DECOY_ID.match(user_id):
        # A blocked address meets a decoy whatever the user: the right password fails too.
        # Not cacheable: FreeSWITCH's cache is per user, not per address.
        log.info("directory: %r from blocked address %s: decoy", user_id, form.get("ip"))
        return _domain_answer(settings, [decoy_user(user_id, settings)], 0)
    console_of = console_users.counsellor_of(user_id)
    if console_of is not None:
        # Never cached by FreeSWITCH: signing out revokes the credential at once.
        return _console_answer(settings, console_of, user_id, action)
    user = _users().get(user_id)
    if user is None and action == "sip_auth" and DECOY_ID.match(user_id):
        # Same path, same kind of answer as a known user with a wrong password.
        log.info("directory: unknown user %r authenticating: decoy", user_id)
        return _domain_answer(settings, [decoy_user(user_id, settings)], cache_ms)
    if user is None:
        return _not_found("directory: no user %r (%s) in %s", user_id, action or "lookup", domain)
    return _domain_answer(settings, [user], cache_ms)


def _console_answer(settings: Settings, counsellor_id: str, user_id: str, action: str) -> Response:
    db: Database = current_app.extensions["pvp.db"]
    clock: Clock = current_app.extensions["pvp.clock"]
    with db.sessions() as session:
        a1 = console_users.valid_digest(session, counsellor_id, clock.now())
        counsellor = session.get(Counsellor, counsellor_id) if a1 else None
        if a1 is None or counsellor is None:
            return _not_found("directory: no valid console credential for %r (%s)", user_id, action)
        user = console_user(counsellor, a1, settings)
    return _domain_answer(settings, [user], 0)


def _domain_answer(settings: Settings, users: list[Any], cache_ms: int) -> Response:
    root, section = document("directory")
    section.append(domain_element(settings, users, cache_ms))
    return _xml(to_bytes(root))


@xml_curl.post("/dialplan")
def dialplan_answer() -> Response:
    settings = _settings()
    form = request.form
    if form.get("section") != "dialplan":
        return _not_found("dialplan request for section %r", form.get("section"))
    context = form.get("Caller-Context") or form.get("Hunt-Context") or ""
    if context != KIOSK_CONTEXT:
        # Counsellors' calls and anything else: the static contexts in dialplan/.
        return _not_found("dialplan context %r is static", context)
    kiosk = form.get(f"variable_{Var.KIOSK}", "")
    if (
        form.get(f"variable_{Var.ROLE}") != Role.KIOSK
        or not kiosk
        or kiosk != form.get("variable_user_name")
    ):
        return _not_found("dialplan: caller is not an authenticated kiosk (%r)", kiosk)
    service = form.get("Hunt-Destination-Number") or form.get("Caller-Destination-Number") or ""
    clock: Clock = current_app.extensions["pvp.clock"]
    plans: PlanCache = current_app.extensions["pvp.plans"]
    now = clock.now()
    try:
        plan = plans.get()
        decision = decide(plan, kiosk, service, now)
    except RoutingError as exc:
        return _not_found("dialplan: %s (kiosk %r dialled %r)", exc, kiosk, service)
    max_wait = _queue_max_waits(plan).get(decision.queue or "")
    outcome = dialplan.Outcome.from_decision(decision, now, max_wait)
    log.info(
        "%s dialled %s: %s%s",
        kiosk,
        service,
        decision.decision.value,
        f" ({decision.reason.value})" if decision.reason else f" -> {decision.queue}",
    )
    return _xml(to_bytes(dialplan.kiosk_answer(outcome, settings)))


_lock = threading.Lock()


def _users() -> dict[str, DirectoryUser]:
    """Every directory user, read again only when the plan revision moved (a new secret does)."""
    db: Database = current_app.extensions["pvp.db"]
    revision = db.revision()
    cached = current_app.extensions.get("pvp.directory_users")
    if cached and cached[0] == revision:
        return cached[1]
    with _lock, db.sessions() as session:
        users = {u.id: u for u in all_users(session, _settings())}
    current_app.extensions["pvp.directory_users"] = (revision, users)
    return users


def _queue_max_waits(plan: RoutingPlan) -> dict[str, int]:
    """Each queue's maximum wait, read again with each new routing plan."""
    cached = current_app.extensions.get("pvp.queue_max_waits")
    if cached and cached[0] is plan:
        return cached[1]
    db: Database = current_app.extensions["pvp.db"]
    with _lock, db.sessions() as session:
        waits = queue_max_waits(session)
    current_app.extensions["pvp.queue_max_waits"] = (plan, waits)
    return waits
