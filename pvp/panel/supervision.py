"""Supervision: every kiosk online or offline, registered or not, its devices, and the alerts.

The region admin sees every site; a site agent sees their own site's kiosks and alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, render_template
from sqlalchemy import or_, select

from pvp.freeswitch.authguard import AuthGuard
from pvp.model import Alert, Kiosk, Role, Site
from pvp.panel.alerts import KIND_LABELS, fleet
from pvp.panel.security import db, panel_blueprint, settings, site_scope

bp = panel_blueprint("supervision", "/supervision", roles=(Role.REGION_ADMIN, Role.SITE_AGENT))
RECENT = timedelta(days=7)


@bp.get("/")
def index() -> Any:
    now = datetime.now(UTC)
    site = site_scope()
    with db().sessions() as session:
        kiosks = fleet(session, settings(), now, site)
        sites = {s.id: s for s in session.scalars(select(Site))}
        query = (
            select(Alert)
            .join(Kiosk)
            .where(
                Alert.raised_at.is_not(None),
                or_(Alert.cleared_at.is_(None), Alert.cleared_at > now - RECENT),
            )
            .order_by(Alert.raised_at.desc())
        )
        if site is not None:
            query = query.where(Kiosk.site_id == site)
        alerts = session.scalars(query).all()
    # Addresses refused after repeated SIP authentication failures: the region's concern.
    guard: AuthGuard = current_app.extensions["pvp.sip_guard"]
    sip_blocks = guard.blocks() if site is None else []
    return render_template(
        "supervision.html",
        kiosks=kiosks,
        sites=sites,
        alerts=alerts,
        kinds=KIND_LABELS,
        now=now,
        offline_after=settings().heartbeat_offline_seconds,
        sip_blocks=sip_blocks,
    )
