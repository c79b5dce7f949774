"""Bounded requests: a body size per route, checked before any of it is read, and numbers in
URLs that fit the database.

A body over its route's bound is refused with 413 and a French reason; waitress' own bound
(``max_request_body_size``, set where the control plane is served) stops bodies without
a ``Content-Length`` at the socket.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from pvp.config import Settings

DEFAULT_BODY = 256 * 1024  # forms, JSON status changes
SMALL_BODY = 16 * 1024  # a heartbeat is a few hundred bytes
PLAN_BODY = 4 * 1024 * 1024  # a region's YAML plan (the 2006 plan is ~60 KB)
# Routes that take a PDF: the document bound plus a multipart envelope.
DOCUMENT_ROUTES = frozenset(
    {
        "documents_api.upload",
        "documents_api.send",
        "documents_api.fax",
        "console.send_document",
        "console.fax",
    }
)
ROUTE_BODY = {"api.heartbeat": SMALL_BODY, "admin.plan_page": PLAN_BODY}
JSON_DEPTH = 32


def body_limit(endpoint: str | None, settings: Settings) -> int:
    if endpoint in DOCUMENT_ROUTES:
        return settings.document_max_bytes + 64 * 1024
    return ROUTE_BODY.get(endpoint or "", DEFAULT_BODY)


def largest_body(settings: Settings) -> int:
    """What the HTTP server lets through at all: the largest route bound."""
    return max(settings.document_max_bytes + 64 * 1024, PLAN_BODY)


class DatabaseInt(IntegerConverter):
    """``<int:…>`` bounded to a signed 64-bit integer: a larger id is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests, stopping once past ``limit``."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSON(DefaultJSONProvider):
    """Request JSON that nests too deep is a parse error (400), not a RecursionError (500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _depth(value, JSON_DEPTH) > JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {JSON_DEPTH} levels")
        return value


def install(app: Flask, settings: Settings) -> None:
    """Before any route is registered (converters are bound when rules are added)."""
    app.url_map.converters["int"] = DatabaseInt
    app.json = BoundedJSON(app)
    app.config.setdefault("MAX_CONTENT_LENGTH", largest_body(settings))

    @app.before_request
    def _bounded_body() -> None:
        limit = body_limit(request.endpoint, settings)
        too_big = f"requête trop volumineuse (au plus {_size(limit)} pour cette adresse)"
        if request.content_length is not None:
            if request.content_length > limit:
                abort(413, too_big)
        elif request.environ.get("wsgi.input_terminated"):
            # A chunked body: werkzeug would cut it at the bound without a word, and the
            # view would see a truncated body. Read one byte past the bound to tell.
            request.max_content_length = limit + 1
            if len(request.get_data(cache=True)) > limit:
                abort(413, too_big)
        request.max_content_length = limit


def _size(n: int) -> str:
    return f"{n // 1048576} Mio" if n >= 1048576 else f"{n // 1024} Kio"
