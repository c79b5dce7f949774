"""A secret shown once, in the answer itself: never in a flash message, which travels in the
signed but readable session cookie, and never cached."""

from __future__ import annotations

from flask import Response, make_response, render_template


def show_once(title: str, label: str, secret: str, back_url: str, note: str = "") -> Response:
    response = make_response(
        render_template(
            "once.html", title=title, label=label, secret=secret, back_url=back_url, note=note
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
