"""The kiosk screen as a local web page (Chromium in kiosk mode shows it), on 127.0.0.1.

The page is rendered on the server for each state and follows changes through server-sent
events, so no click of the citizen is ever needed to move from one state to the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, abort, render_template, request

from pvp.common import headers
from pvp.kiosk.screen import Screen, Snapshot

KEEPALIVE_SECONDS = 15.0
# The names the kiosk's own Chromium uses for the screen. Any other Host is a page of another
# site whose name was made to resolve to 127.0.0.1 (DNS rebinding): it gets nothing.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _local_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower() in LOCAL_HOSTS


def create_screen_app(
    screen: Screen,
    kiosk: dict[str, Any],
    on_press: Callable[[str], None] | None = None,
    phone: dict[str, Any] | None = None,
) -> Flask:
    """``kiosk``: id, commune, buttons [{service, label}], site_agent_phone.

    ``phone``: what the page's video phone needs (token, wss_url, uri, password); with it the
    page carries the calls (see :mod:`pvp.kiosk.phone`), without it the page only shows states.
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    headers.install(app, headers.PANEL_POLICY)

    @app.before_request
    def local_only() -> None:
        if not _local_host(request.host):
            abort(403)

    def render(snapshot: Snapshot) -> str:
        return render_template(
            "view.html", s=snapshot, view=snapshot.view.value, d=snapshot.data, kiosk=kiosk
        )

    @app.get("/")
    def page() -> str:
        snapshot = screen.current()
        return render_template(
            "screen.html", body=render(snapshot), s=snapshot, kiosk=kiosk, phone=phone
        )

    @app.get("/view")
    def view() -> Response:
        snapshot = screen.current()
        response = Response(render(snapshot), mimetype="text/html")
        response.headers["X-Screen-Version"] = str(snapshot.version)
        response.headers["X-Screen-View"] = snapshot.view.value
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/state")
    def state() -> Any:
        s = screen.current()
        return {
            "version": s.version,
            "view": s.view.value,
            "data": dict(s.data),
            "notice": s.notice,
        }

    @app.get("/events")
    def events() -> Response:
        def stream() -> Iterator[str]:
            version = -1
            while True:
                snapshot = screen.wait_change(version, KEEPALIVE_SECONDS)
                if snapshot.version == version:
                    yield ": keepalive\n\n"
                    continue
                version = snapshot.version
                yield f"event: view\ndata: {json.dumps({'version': version})}\n\n"

        return Response(
            stream(),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.post("/press/<service>")
    def press(service: str) -> Any:
        # Only the page itself may press: a POST from any other origin is refused.
        origin = request.headers.get("Origin")
        if origin and origin != request.host_url.rstrip("/"):
            abort(403)
        if on_press is None or service not in {b["service"] for b in kiosk["buttons"]}:
            abort(404)
        on_press(service)
        return {"pressed": service}

    return app
