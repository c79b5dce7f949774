"""Read-only listings of the deployment: kiosks and counsellors as plain JSON objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvp import health
from pvp.model import Agency, Counsellor, Kiosk, KioskHeartbeat, QueueMembership, Site


def kiosks(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    beats = {b.kiosk_id: b for b in session.scalars(select(KioskHeartbeat))}
    rows = session.scalars(
        select(Kiosk)
        .options(
            selectinload(Kiosk.buttons), selectinload(Kiosk.site).selectinload(Site.department)
        )
        .order_by(Kiosk.id)
    )
    return [
        {
            "id": k.id,
            "site": k.site_id,
            "commune": k.site.commune,
            "community": k.site.community,
            "department": k.site.department_code,
            "department_name": k.site.department.name,
            "host_place": k.site.host_place,
            "services": k.service_codes,
            **health.status(beats.get(k.id), now),
        }
        for k in rows
    ]


def counsellors(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Counsellor)
        .options(
            selectinload(Counsellor.agency).selectinload(Agency.queues),
            selectinload(Counsellor.memberships).selectinload(QueueMembership.queue),
        )
        .order_by(Counsellor.id)
    )
    return [
        {
            "id": c.id,
            "name": c.display_name,
            "agency": c.agency_id,
            "service": c.agency.service_code,
            "station": c.station_id,
            "queues": [
                {"queue": m.queue_id, "priority": m.priority}
                for m in sorted(c.memberships, key=lambda m: (m.priority, m.queue_id))
            ],
        }
        for c in rows
    ]
