"""The database as a deployment plan (the YAML of ``provisioning/``): the inverse of the import.

What the plan format cannot say is reported, not silently dropped: kiosks of one site with
different buttons (the plan gives one button row per site), kiosk numbers with gaps, agencies
without a queue, counsellors without a queue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvp.model import (
    Agency,
    ClosureDay,
    Counsellor,
    Department,
    RouteRule,
    Service,
    Site,
)
from pvp.plan import kiosk_id


def _hhmm(value: Any) -> str:
    return value.strftime("%H:%M")


def _csv(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _window(w: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": w.mode, "days": _csv(w.weekdays)}
    if w.nth:
        out["nth"] = [int(n) for n in _csv(w.nth)]
    out["from"], out["to"] = _hhmm(w.start_time), _hhmm(w.end_time)
    if w.valid_from:
        out["valid_from"] = w.valid_from
    if w.valid_until:
        out["valid_until"] = w.valid_until
    if w.except_dates:
        out["except"] = [date.fromisoformat(d) for d in _csv(w.except_dates)]
    if w.note:
        out["assumption"] = w.note  # the import keeps a window's assumption as its note
    return out


def export_plan(session: Session, name: str = "") -> tuple[dict[str, Any], list[str]]:
    """The plan as a mapping ready for YAML, and the warnings about what it cannot hold."""
    warnings: list[str] = []
    plan: dict[str, Any] = {"name": name}
    plan["departments"] = [
        {"code": d.code, "name": d.name}
        for d in session.scalars(select(Department).order_by(Department.code))
    ]
    plan["services"] = [
        {"code": s.code, "name": s.name, "default_mode": s.default_mode}
        for s in session.scalars(select(Service).order_by(Service.code))
    ]
    plan["agencies"] = []
    agencies = session.scalars(
        select(Agency)
        .options(selectinload(Agency.stations), selectinload(Agency.queues))
        .order_by(Agency.id)
    )
    for a in agencies:
        if not a.queues:
            warnings.append(f"agence {a.id} : aucune file d'experts (le format en demande une)")
        plan["agencies"].append(
            {
                "id": a.id,
                "service": a.service_code,
                "name": a.name,
                "town": a.town,
                "department": a.department_code,
                "pilot": a.pilot,
                "stations": [s.id for s in a.stations],
                "queues": [
                    {
                        "id": q.id,
                        "name": q.name,
                        "strategy": q.strategy,
                        "max_wait_seconds": q.max_wait_seconds,
                        "no_answer_timeout_seconds": q.no_answer_timeout_seconds,
                        "wrap_up_seconds": q.wrap_up_seconds,
                    }
                    for q in sorted(a.queues, key=lambda q: q.id)
                ],
            }
        )
    plan["counsellors"] = []
    for c in session.scalars(
        select(Counsellor).options(selectinload(Counsellor.memberships)).order_by(Counsellor.id)
    ):
        if not c.memberships:
            warnings.append(f"conseiller {c.id} : membre d'aucune file (le format en demande une)")
        entry: dict[str, Any] = {"id": c.id, "name": c.display_name, "agency": c.agency_id}
        if c.station_id:
            entry["station"] = c.station_id
        entry["queues"] = [
            {"queue": m.queue_id, "priority": m.priority}
            for m in sorted(c.memberships, key=lambda m: (m.priority, m.queue_id))
        ]
        plan["counsellors"].append(entry)
    routes: dict[str, list[RouteRule]] = {}
    for r in session.scalars(select(RouteRule).options(selectinload(RouteRule.windows))):
        routes.setdefault(r.site_id, []).append(r)
    plan["sites"] = []
    for s in session.scalars(select(Site).options(selectinload(Site.kiosks)).order_by(Site.id)):
        kiosks = s.kiosks
        expected = [kiosk_id(s.id, n) for n in range(1, len(kiosks) + 1)]
        if [k.id for k in kiosks] != expected:
            warnings.append(
                f"site {s.id} : bornes {', '.join(k.id for k in kiosks) or 'aucune'}"
                " hors de la numérotation kiosk-<site>-1..n du format"
            )
        rows = {tuple(k.service_codes) for k in kiosks}
        if len(rows) > 1:
            warnings.append(
                f"site {s.id} : boutons différents selon la borne ; ceux de "
                f"{kiosks[0].id} sont exportés"
            )
        site: dict[str, Any] = {
            "id": s.id,
            "department": s.department_code,
            "community": s.community,
            "commune": s.commune,
            "host_place": s.host_place,
            "agent_phone": s.agent_phone,
            "agent_email": s.agent_email,
            "pilot": s.pilot,
            "kiosks": max(len(kiosks), 1),
            "services": kiosks[0].service_codes if kiosks else [],
        }
        site["routes"] = {
            r.service_code: {"queue": r.queue_id, "windows": [_window(w) for w in r.windows]}
            for r in sorted(routes.get(s.id, []), key=lambda r: r.service_code)
        }
        plan["sites"].append(site)
    plan["closures"] = [
        {
            "site": c.site_id,
            "service": c.service_code,
            "from": c.first_day,
            "to": c.last_day,
            "reason": c.reason,
        }
        for c in session.scalars(select(ClosureDay).order_by(ClosureDay.first_day, ClosureDay.id))
    ]
    return plan, warnings


def dump_yaml(plan: dict[str, Any]) -> str:
    header = "# Deployment plan exported by the PVP panel; import it with `pvp provision import`.\n"
    return header + yaml.safe_dump(plan, allow_unicode=True, sort_keys=False, width=100)
