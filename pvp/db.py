"""The database adapter: engine, sessions, migrations, and the plan revision counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from pvp.model import PlanRevision

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (HTTP) never block the writer (ESL)
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    """An engine with its session factory; commands and servers hold one each."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed if the block succeeds, rolled back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def revision(self) -> int:
        # Core, not ORM: asked on every switch request, it must stay well under a millisecond.
        with self.engine.connect() as conn:
            value = conn.execute(select(PlanRevision.revision).where(PlanRevision.id == 1)).scalar()
        return int(value or 0)


def bump_revision(session: Session) -> None:
    """Mark the plan changed; caches of the routing plan reload on their next read."""
    row = session.scalars(select(PlanRevision).where(PlanRevision.id == 1)).first()
    if row is None:
        session.add(PlanRevision(id=1, revision=1))
    else:
        row.revision += 1
