"""Security headers on every response: a content security policy, no framing, no sniffing,
no referrer leaving the site.

Pages' own scripts carry a per-request nonce (``csp_nonce()`` in templates); nothing inline
without it runs, so an injected ``<script>`` or ``onclick`` would not either.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

# The counsellor's console and the kiosk screen are video phones: they play the call's media
# and reach the switch over a secure WebSocket.
PANEL_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self' wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def install(app: Flask, policy: str = PANEL_POLICY) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy.format(nonce=csp_nonce()))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        return response
