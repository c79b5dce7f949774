"""A counsellor's calendar feed (ICS) link: a new secret token, only its digest kept, audited."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from pvp.model import CounsellorFeed
from pvp.services import audit


def feed_digest(token: str) -> str:
    """What is stored of a feed token: a copy of the database does not open the feeds."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_link_token(session: Session, counsellor_id: str, *, actor: str) -> str:
    """A new token for ``counsellor_id``'s feed (the old one stops working), returned once."""
    feed = session.get(CounsellorFeed, counsellor_id)
    if feed is None:
        feed = CounsellorFeed(counsellor_id=counsellor_id)
        session.add(feed)
    token = secrets.token_urlsafe(24)
    feed.token_sha256 = feed_digest(token)
    audit.record(session, actor, "new_feed_link", "counsellor_feeds", counsellor_id)
    return token
