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


def row_saved(
    session: Session,
    table: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    actor: str,
) -> None:
    """Record a row of ``table`` created (``before`` is None) or updated."""
    action = "update" if before is not None else "create"
    audit.record(session, actor, action, table, key, before, after)
    bump_revision(session)


def row_deleted(
    session: Session, table: str, key: str, before: dict[str, Any] | None, *, actor: str
) -> None:
    audit.record(session, actor, "delete", table, key, before, None)
    bump_revision(session)
