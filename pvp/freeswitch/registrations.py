"""Who is SIP-registered, from mod_sofia's custom events and ``show registrations``.

A user may register several contacts (a softphone on two machines); they count as registered
while any contact is. Events: ``sofia::register`` adds a contact, ``sofia::unregister`` and
``sofia::expire`` remove one. After every (re)connection the whole table is read again, since
events sent while PVP was away are lost.

A counsellor's browser console registers as its own SIP user (``<counsellor>_console``, see
:mod:`pvp.freeswitch.console_users`); its contacts count as the counsellor's.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from pvp.freeswitch.console_users import owner
from pvp.freeswitch.eslframe import Event

log = logging.getLogger("pvp.esl.registrations")

REGISTER = "CUSTOM sofia::register"
UNREGISTER = "CUSTOM sofia::unregister"
EXPIRE = "CUSTOM sofia::expire"
EVENTS = (REGISTER, UNREGISTER, EXPIRE)

Listener = Callable[[str, bool], None]


def user_of(event: Event) -> str:
    """The SIP user a registration event is about (a console's counts as its counsellor's)."""
    return owner(event.get("from-user") or event.get("user") or event.get("username") or "")


def _contact_key(event: Event) -> str:
    return event.get("call-id") or event.get("contact")


class RegistrationTracker:
    def __init__(self, listener: Listener | None = None) -> None:
        self._contacts: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = [listener] if listener else []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def is_registered(self, user: str) -> bool:
        with self._lock:
            return bool(self._contacts.get(user))

    def registered_users(self) -> set[str]:
        with self._lock:
            return {u for u, contacts in self._contacts.items() if contacts}

    def on_event(self, event: Event) -> None:
        user = user_of(event)
        if not user:
            return
        key = _contact_key(event)
        with self._lock:
            before = bool(self._contacts.get(user))
            contacts = self._contacts.setdefault(user, set())
            if event.subclass == "sofia::register":
                contacts.add(key)
            elif key in contacts:
                contacts.discard(key)
            else:
                contacts.clear()  # no way to tell which contact left: assume all did
            after = bool(contacts)
        if before != after:
            log.info("%s %s", user, "registered" if after else "unregistered")
            self._notify(user, after)

    def resync(self, table_json: str) -> None:
        """Replace everything with ``show registrations as json`` output."""
        data = json.loads(table_json or "{}")
        fresh: dict[str, set[str]] = {}
        for row in data.get("rows", []) or []:
            fresh.setdefault(owner(row.get("reg_user", "")), set()).add(
                row.get("token") or row.get("url", "")
            )
        with self._lock:
            old = {u for u, c in self._contacts.items() if c}
            self._contacts = fresh
            new = {u for u, c in fresh.items() if c}
        for user in sorted(old - new):
            self._notify(user, False)
        for user in sorted(new - old):
            self._notify(user, True)

    def _notify(self, user: str, registered: bool) -> None:
        for listener in self._listeners:
            try:
                listener(user, registered)
            except Exception:
                log.exception("registration listener failed for %s", user)
