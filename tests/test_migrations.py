"""The Alembic migrations build exactly the schema the model declares."""

from __future__ import annotations

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
