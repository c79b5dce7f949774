"""The audit log: every change written through the panel or the CLI, with before and after."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from pvp.model import AuditEntry, Base


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def snapshot(row: Base | None, **extra: Any) -> dict[str, Any] | None:
    """The row's columns as JSON-ready values; secrets' digests are left out."""
    if row is None:
        return None
    mapper = inspect(row).mapper
    values = {
        c.key: _json_value(getattr(row, c.key))
        for c in mapper.column_attrs
        if c.key not in ("a1_hash", "password_hash", "token_sha256")
    }
    values.update({k: _json_value(v) for k, v in extra.items()})
    return values


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
