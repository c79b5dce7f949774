"""The Alembic migrations build exactly the schema the model declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pvp.db import Database
from pvp.model import Base


def test_migrated_schema_matches_the_model(empty_db: Database) -> None:
    with empty_db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(empty_db: Database) -> None:
    again = Database(empty_db.url)
    assert again.revision() == 0
    again.engine.dispose()


def test_feed_links_handed_out_before_0007_keep_working(tmp_path: Path) -> None:
    """0007 replaces each stored feed token by its digest: the link people hold still opens."""
    import sqlite3

    from alembic import command
    from sqlalchemy import text

    from pvp.db import alembic_config, make_engine
    from pvp.services.calendar_feeds import feed_digest

    path = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    command.upgrade(alembic_config(engine), "0006")
    raw = sqlite3.connect(path)  # foreign keys off: the counsellor needs no agency here
    raw.execute("INSERT INTO counsellors VALUES ('c1', 'a', NULL, 'C', 'x')")
    raw.execute("INSERT INTO counsellor_feeds VALUES ('c1', 'the-old-token')")
    raw.commit()
    raw.close()
    command.upgrade(alembic_config(engine), "head")
    with engine.connect() as c:
        stored = c.execute(text("SELECT token_sha256 FROM counsellor_feeds")).scalar_one()
    assert stored == feed_digest("the-old-token")
    engine.dispose()
