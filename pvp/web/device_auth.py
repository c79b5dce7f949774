"""HTTP Digest authentication of kiosks (RFC 7616, MD5, qop=auth) with their SIP secret.

The control plane stores only each device's ``a1-hash`` (HA1), which is exactly what a Digest
check needs: the kiosk authenticates to the HTTP API with the same secret it registers with,
and no plain secret is ever stored. Nonces are a timestamp signed with a key held in memory,
valid for a few minutes; each nonce count (``nc``) is accepted once, so a captured request
cannot be replayed, with its body or another (``qop=auth`` does not cover the body, and
production runs this over verified TLS: docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, jsonify, request

NONCE_LIFETIME = 300  # seconds
_KEY = secrets.token_bytes(32)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617/7616 digest


def make_nonce(now: float | None = None) -> str:
    # Random per challenge: two kiosks challenged in the same second must not share a nonce
    # (their nonce counts would collide in the replay table).
    stamp = f"{int(now if now is not None else time.time())}-{secrets.token_hex(8)}"
    return f"{stamp}.{hmac.new(_KEY, stamp.encode(), 'sha256').hexdigest()[:32]}"


def _stamp(nonce: str) -> int:
    return int(nonce.partition("-")[0])


def nonce_fresh(nonce: str, now: float | None = None) -> bool:
    stamp, _, mac = nonce.partition(".")
    expected = hmac.new(_KEY, stamp.encode(), "sha256").hexdigest()[:32]
    if not re.fullmatch(r"[0-9]{1,12}-[0-9a-f]{16}", stamp) or not hmac.compare_digest(
        mac, expected
    ):
        return False
    return 0 <= (now if now is not None else time.time()) - _stamp(nonce) <= NONCE_LIFETIME


class NonceCounts:
    """The nonce counts already used, per live nonce: a second use of one is a replay."""

    def __init__(self, lifetime: float = NONCE_LIFETIME, per_nonce: int = 100_000) -> None:
        self._seen: dict[str, tuple[int, set[int]]] = {}  # nonce -> (stamp, counts used)
        self._lock = threading.Lock()
        self._lifetime = lifetime
        self._per_nonce = per_nonce

    def first_use(self, nonce: str, nc: int, now: float | None = None) -> bool:
        now = now if now is not None else time.time()
        stamp = _stamp(nonce)
        with self._lock:
            if len(self._seen) > 1000:  # drop the expired ones now and then
                for old in [n for n, (t, _) in self._seen.items() if now - t > self._lifetime]:
                    del self._seen[old]
            _, used = self._seen.setdefault(nonce, (stamp, set()))
            if nc in used or len(used) >= self._per_nonce:
                return False
            used.add(nc)
            return True


_COUNTS = NonceCounts()
_NC = re.compile(r"[0-9a-fA-F]{8}")


def _challenge(realm: str, stale: bool = False) -> Response:
    response = jsonify(error="authentification requise", status=401)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = (
        f'Digest realm="{realm}", qop="auth", algorithm=MD5, nonce="{make_nonce()}"'
        + (", stale=true" if stale else "")
    )
    return response


def verified_device(ha1_of: Callable[[str], str | None]) -> str | Response:
    """The device whose Digest credentials this request carries, or the 401 to answer."""
    realm = current_app.extensions["pvp.settings"].sip_domain
    auth = request.authorization
    if auth is None or auth.type != "digest":
        return _challenge(realm)
    user, nonce = auth.username or "", auth.nonce or ""
    ha1 = ha1_of(user)
    fields = (auth.response, auth.uri, auth.nc, auth.cnonce)
    if ha1 is None or auth.realm != realm or auth.qop != "auth" or not all(fields):
        return _challenge(realm)
    if auth.uri not in (request.path, request.full_path.rstrip("?")):
        return _challenge(realm)  # a response computed for another resource
    if not nonce_fresh(nonce):
        return _challenge(realm, stale=True)
    ha2 = _md5(f"{request.method}:{auth.uri}")
    expected = _md5(f"{ha1}:{nonce}:{auth.nc}:{auth.cnonce}:auth:{ha2}")
    if not hmac.compare_digest(expected, auth.response or ""):
        return _challenge(realm)
    if not _NC.fullmatch(auth.nc or "") or not _COUNTS.first_use(nonce, int(auth.nc or "0", 16)):
        # A replay (or a count out of form): the honest client retries with a fresh nonce.
        return _challenge(realm, stale=True)
    return user


def digest_required(ha1_of: Callable[[str], str | None]) -> Callable[..., Any]:
    """Protect a view; ``ha1_of(user)`` gives the stored HA1, and ``g.device`` the user."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            device = verified_device(ha1_of)
            if not isinstance(device, str):
                return device
            g.device = device
            return view(*args, **kwargs)

        return wrapped

    return decorate
