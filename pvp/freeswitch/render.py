"""Render FreeSWITCH's whole configuration tree from PVP's settings and plan.

The templates are the files under the repository's ``freeswitch/`` (Jinja2, autoescaped
for XML); ``dialplan/`` holds the static part of the dialplan, copied as is. The directory
and the kiosks' dialplan are rendered from the database as the fallback mod_xml_curl falls
through to when the control plane is down. Files holding secrets are written mode 0600.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import shutil
import urllib.parse
import xml.etree.ElementTree as ET
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import jinja2
from sqlalchemy import select

from pvp.common.errors import PvpError
from pvp.common.fsutil import write_atomically
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.directory import all_users, domain_element
from pvp.freeswitch.fallback import kiosk_context
from pvp.freeswitch.pool import IDENTITY_HEADER, proxy_address
from pvp.freeswitch.xmldoc import include, to_bytes
from pvp.model import ClosureDay
from pvp.plan_view import load_routing_plan, queue_max_waits

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "freeswitch"
STATIC_DIALPLAN = ROOT / "dialplan"
SECRET_FILES = frozenset(
    {
        "autoload_configs/event_socket.conf.xml",
        "autoload_configs/xml_curl.conf.xml",
        "directory/pvp.xml",
    }
)


class RenderError(
    PvpError,
    RuntimeError,
    code="render_failed",
    summary="configuration du commutateur impossible à produire",
):
    """The configuration cannot be rendered (missing templates, bad settings)."""


@dataclass(frozen=True)
class Rendered:
    out: Path
    files: list[Path]


def posix_tz(name: str) -> str:
    """The POSIX TZ rule of a zone (``CET-1CEST,M3.5.0,M10.5.0/3``): the TZif file's footer."""
    data: bytes | None = None
    for base in zoneinfo.TZPATH:
        path = Path(base) / name
        if path.is_file():
            data = path.read_bytes()
            break
    if data is None:
        try:
            res = importlib.resources.files("tzdata").joinpath("zoneinfo", *name.split("/"))
            data = res.read_bytes()
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            raise RenderError(f"unknown time zone {name!r}") from exc
    footer = data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("ascii")
    if not footer or not data.startswith(b"TZif"):
        raise RenderError(f"time zone {name!r} has no POSIX rule")
    return footer


def webrtc_networks(settings: Settings) -> list[str]:
    """The CIDRs of ``webrtc_networks``, normalised; RenderError on a bad or empty list."""
    networks = []
    for part in settings.webrtc_networks.split(","):
        if not part.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError as exc:
            raise RenderError(f"webrtc_networks: {exc}") from None
    if not networks:
        raise RenderError("webrtc_networks is empty: no browser could send media")
    return networks


def control_planes(settings: Settings) -> list[str]:
    """The control planes' URLs for xml_curl; RenderError on one that is not http(s)."""
    urls = settings.control_planes()
    for url in urls:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise RenderError(f"control_plane_urls: {url!r} is not an http(s) URL")
    return urls


def proxy_cidr(settings: Settings) -> str:
    """Kamailio's address as the one-host network FreeSWITCH's ACL trusts; '' when none."""
    try:
        proxy = proxy_address(settings)
    except ValueError as exc:
        raise RenderError(str(exc)) from None
    return str(ipaddress.ip_network(proxy[0])) if proxy else ""


def template_context(settings: Settings) -> dict[str, object]:
    user, password = settings.xml_curl_user, settings.secret("xml_curl_password")
    if ":" in user:
        raise RenderError("xml_curl_user must not contain ':'")
    return {
        "proxy_cidr": proxy_cidr(settings),
        "identity_header": IDENTITY_HEADER,
        "webrtc_networks": webrtc_networks(settings),
        "s": settings,
        "control_planes": control_planes(settings),
        "esl_password": settings.secret("esl_password"),
        "xml_curl_credentials": f"{user}:{password}",
        "posix_tz": posix_tz(settings.timezone),
    }


def _write(out: Path, relative: str, data: bytes, written: list[Path]) -> None:
    """Write a file whole or not at all: a running FreeSWITCH may read it (``reloadxml``)."""
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data, 0o600 if relative in SECRET_FILES else 0o644)
    written.append(path)


def render_templates(settings: Settings, out: Path, written: list[Path]) -> None:
    if not TEMPLATES.is_dir():
        raise RenderError(f"FreeSWITCH templates not found in {TEMPLATES}")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value lands in an XML attribute
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    context = template_context(settings)
    for path in sorted(TEMPLATES.rglob("*.xml")):
        relative = path.relative_to(TEMPLATES).as_posix()
        text = env.get_template(relative).render(context)
        _write(out, relative, text.encode(), written)
    for path in sorted(STATIC_DIALPLAN.glob("*.xml")):
        _write(out, f"dialplan/{path.name}", path.read_bytes(), written)
    render_fax_in(settings, out, written)


FAX_IN_CONTEXT = "pvp-fax-in"


def render_fax_in(settings: Settings, out: Path, written: list[Path]) -> None:
    """The context a site's fax gateway sends calls to: ``fax-<kiosk or counsellor>``.

    rxfax writes into the spool the control plane's fax service reads (data_dir/fax); the
    result event carries the recipient, and the received PDF is stored, then printed on the
    kiosk or listed in the counsellor's console.
    """
    from pvp.documents.fax import receive_extension

    spool = settings.data_dir / "fax"
    body = receive_extension(spool)
    text = f'<include><context name="{FAX_IN_CONTEXT}">{body}</context></include>\n'
    _write(out, "dialplan/pvp-fax-in.xml", text.encode(), written)


def render_fallback(
    settings: Settings, db: Database, today: date, out: Path, written: list[Path]
) -> None:
    """The directory and the kiosks' dialplan as static files, as of ``today``."""
    with db.sessions() as session:
        users = all_users(session, settings)
        plan = load_routing_plan(session, settings, since=_midnight(today, settings))
        closures = [
            (c.site_id, c.service_code, c.first_day, c.last_day, c.reason)
            for c in session.scalars(select(ClosureDay).order_by(ClosureDay.first_day))
        ]
        waits = queue_max_waits(session)
    directory = include([domain_element(settings, users, cache_ms=0)])
    _write(out, "directory/pvp.xml", to_bytes(directory, pretty=True), written)
    context = kiosk_context(plan, settings, today, closures, waits)
    comment = ET.Comment(
        f" Rendered for {today} to {today + timedelta(days=settings.static_horizon_days)}"
        " by `pvp freeswitch render`: render again before then. "
    )
    _write(
        out, "dialplan/pvp-kiosks.xml", to_bytes(include([comment, context]), pretty=True), written
    )


def _midnight(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time(0), settings.zone)


def render(settings: Settings, db: Database, out: Path, today: date) -> Rendered:
    """Write the whole tree under ``out`` (created if needed); returns the files written."""
    written: list[Path] = []
    template_context(settings)  # bad settings are refused before anything is touched
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("dialplan", "directory"):
        # Stale files there would be included too: the tree is ours, start it afresh.
        shutil.rmtree(out / sub, ignore_errors=True)
    render_templates(settings, out, written)
    render_fallback(settings, db, today, out, written)
    return Rendered(out, written)
