"""Provisioning: a validated plan into the database, and device credentials.

Import is idempotent: entries are matched by id and rewritten only where they differ, so a
second import of the same plan changes nothing (not even the plan revision). New kiosks and
counsellors get a random SIP secret; only its digest (FreeSWITCH's ``a1-hash``) is stored, and
the plain secret is handed back once, to go into the device's bundle.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from pvp.db import bump_revision
from pvp.model import (
    Agency,
    Base,
    Counsellor,
    Department,
    ExpertQueue,
    ExpertStation,
    Kiosk,
    KioskButton,
    QueueMembership,
    Service,
    Site,
)
from pvp.plan import (
    AgencyPlan,
    ClosurePlan,
    CounsellorPlan,
    Plan,
    SitePlan,
    WindowPlan,
    kiosk_id,
)
from pvp.services import plan_rows

SECRET_BYTES = 24  # 192 bits, above the 128 the security policy asks for


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def a1_hash(user: str, realm: str, secret: str) -> str:
    """HA1 of RFC 2617 digest, what FreeSWITCH's directory accepts as ``a1-hash``."""
    return hashlib.md5(f"{user}:{realm}:{secret}".encode()).hexdigest()  # noqa: S324


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # new devices' plain secrets

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def record(self, kind: str, change: bool | None) -> None:
        """Count a row of ``kind`` created (True) or updated (False); None: unchanged."""
        if change is None:
            return
        bucket = self.created if change else self.updated
        bucket[kind] = bucket.get(kind, 0) + 1


def _upsert(
    session: Session, report: ImportReport, model: type[Base], key: Any, **values: Any
) -> None:
    report.record(model.__tablename__, plan_rows.upsert(session, model, key, values))


def _window_fields(w: WindowPlan) -> dict[str, Any]:
    return {
        "mode": w.mode.value,
        "weekdays": ",".join(d.strip().lower()[:3] for d in w.days),
        "nth": ",".join(str(n) for n in sorted(w.nth)),
        "start_time": w.start,
        "end_time": w.end,
        "valid_from": w.valid_from,
        "valid_until": w.valid_until,
        "except_dates": ",".join(d.isoformat() for d in sorted(w.except_dates)),
        "note": w.assumption or "",
    }


def _device_credentials(
    session: Session,
    report: ImportReport,
    model: type[Kiosk] | type[Counsellor],
    ident: str,
    realm: str,
) -> str | None:
    existing = session.get(Kiosk, ident) if model is Kiosk else session.get(Counsellor, ident)
    if existing is not None:
        return existing.a1_hash
    secret = new_secret()
    report.secrets[ident] = secret
    return a1_hash(ident, realm, secret)


# The columns a plan entry's attribute of the same name fills (the others are named below).
AGENCY_COLUMNS = ("name", "town", "pilot")
QUEUE_COLUMNS = (
    "name",
    "strategy",
    "max_wait_seconds",
    "no_answer_timeout_seconds",
    "wrap_up_seconds",
)
SITE_COLUMNS = ("community", "commune", "host_place", "agent_phone", "agent_email", "pilot")
CLOSURE_COLUMNS = ("first_day", "last_day", "reason")


def _values(entry: Any, same: tuple[str, ...], **renamed: str) -> dict[str, Any]:
    """A row's columns from a plan entry: ``same`` share the attribute's name, ``renamed``
    maps a column to the attribute that fills it."""
    values = {name: getattr(entry, name) for name in same}
    values.update({column: getattr(entry, attr) for column, attr in renamed.items()})
    return values


def apply_plan(session: Session, plan: Plan, realm: str) -> ImportReport:
    """Make the database hold ``plan``; the caller commits (or rolls back on error)."""
    report = ImportReport()
    for department in plan.departments:
        _upsert(session, report, Department, department.code, name=department.name)
    for service in plan.services:
        mode = service.default_mode.value
        _upsert(session, report, Service, service.code, name=service.name, default_mode=mode)
    session.flush()
    for agency in plan.agencies:
        _apply_agency(session, report, agency)
    session.flush()
    for person in plan.counsellors:
        _apply_counsellor(session, report, person, realm)
    for site in plan.sites:
        _apply_site(session, report, site, realm)
    for closure in plan.closures:
        _apply_closure(session, report, closure)
    session.flush()
    if report.changed:
        bump_revision(session)
    return report


def _apply_agency(session: Session, report: ImportReport, agency: AgencyPlan) -> None:
    values = _values(agency, AGENCY_COLUMNS, service_code="service", department_code="department")
    _upsert(session, report, Agency, agency.id, **values)
    for station in agency.stations:
        _upsert(session, report, ExpertStation, station, agency_id=agency.id, label=station)
    for queue in agency.queues:
        owner = {"agency_id": agency.id, "service_code": agency.service}
        _upsert(session, report, ExpertQueue, queue.id, **owner, **_values(queue, QUEUE_COLUMNS))


def _apply_counsellor(
    session: Session, report: ImportReport, person: CounsellorPlan, realm: str
) -> None:
    a1 = _device_credentials(session, report, Counsellor, person.id, realm)
    _upsert(
        session,
        report,
        Counsellor,
        person.id,
        agency_id=person.agency,
        station_id=person.station,
        display_name=person.name,
        a1_hash=a1,
    )
    session.flush()
    for member in person.queues:
        key = (person.id, member.queue)
        _upsert(session, report, QueueMembership, key, priority=member.priority)


def _apply_site(session: Session, report: ImportReport, site: SitePlan, realm: str) -> None:
    values = _values(site, SITE_COLUMNS, department_code="department")
    _upsert(session, report, Site, site.id, **values)
    session.flush()
    for n in range(1, site.kiosks + 1):
        kid = kiosk_id(site.id, n)
        a1 = _device_credentials(session, report, Kiosk, kid, realm)
        _upsert(session, report, Kiosk, kid, site_id=site.id, a1_hash=a1)
        session.flush()
        for position, code in enumerate(site.services):
            _upsert(session, report, KioskButton, (kid, code), position=position)
    for code, route_plan in site.routes.items():
        route, change = plan_rows.set_route(session, site.id, code, route_plan.queue)
        report.record("route_rules", change)
        session.flush()
        wanted = [_window_fields(w) for w in route_plan.windows]
        report.record("opening_windows", plan_rows.replace_windows(session, route, wanted))


def _apply_closure(session: Session, report: ImportReport, closure: ClosurePlan) -> None:
    values = _values(closure, CLOSURE_COLUMNS, site_id="site", service_code="service")
    report.record("closures", plan_rows.set_closure(session, values))


def device(session: Session, device_id: str) -> Kiosk | Counsellor | None:
    """The kiosk or counsellor whose SIP user is ``device_id``."""
    return session.get(Kiosk, device_id) or session.get(Counsellor, device_id)


def rotate_secret(session: Session, device_id: str, realm: str) -> str:
    """A new secret for a kiosk or counsellor; the old one stops working at once."""
    row = device(session, device_id)
    if row is None:
        raise LookupError(f"no kiosk or counsellor {device_id!r}")
    secret = new_secret()
    row.a1_hash = a1_hash(device_id, realm, secret)
    bump_revision(session)
    return secret
