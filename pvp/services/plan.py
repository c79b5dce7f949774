"""Changes to the deployment plan's tables, audited: a whole plan imported, one row edited.

Every change bumps the plan revision (the switch's directory and dialplan and the kiosks'
screens follow it) and leaves one audit entry naming who made it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pvp.db import bump_revision
from pvp.plan import Plan
from pvp.provisioning import ImportReport, apply_plan
from pvp.services import audit


def import_plan(
    session: Session, plan: Plan, realm: str, source: str, *, actor: str
) -> ImportReport:
    """Make the database hold ``plan`` (idempotent); the caller commits."""
    report = apply_plan(session, plan, realm)
    if report.changed:
        after = {"created": report.created, "updated": report.updated}
        audit.record(session, actor, "import", "plan", source, None, after)
    return report


def changed(
    session: Session,
    action: str,
    table: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    actor: str,
) -> None:
    """Record a change to the plan's tables (``action``: create, update, delete,
    publish_routing…) and bump the plan revision."""
    audit.record(session, actor, action, table, key, before, after)
    bump_revision(session)
