"""The same model, migrations, import and decisions on a real PostgreSQL server.

A private cluster is created in a temporary directory and listens on 127.0.0.1 only. The test
skips, saying why, where Debian's PostgreSQL server binaries are absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pvp import appointments
from pvp.config import Settings
from pvp.db import Database
from pvp.model import Base
from pvp.plan import load_plan
from pvp.plan_view import load_routing_plan
from pvp.provisioning import apply_plan
from pvp.routing import decide

PLAN_2006 = Path(__file__).resolve().parent.parent / "provisioning" / "auvergne-2006.yaml"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[Database]:
    db = Database(postgres_url)
    with db.session() as session:
        apply_plan(session, load_plan(PLAN_2006), Settings().sip_domain)
    yield db
    db.engine.dispose()


def test_migrations_build_the_model_on_postgres(pg: Database) -> None:
    with pg.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_reimport_changes_nothing_on_postgres(pg: Database) -> None:
    revision = pg.revision()
    with pg.session() as session:
        assert not apply_plan(session, load_plan(PLAN_2006), Settings().sip_domain).changed
    assert pg.revision() == revision


def test_decisions_and_bookings_agree_with_sqlite(pg: Database, db: Database) -> None:
    settings = Settings()
    start = datetime(2006, 11, 8, 10, tzinfo=PARIS)
    for database in (pg, db):
        with database.session() as session:
            plan = load_routing_plan(session, settings)
            appointments.book(
                session, plan, appointments.Booking("vorey", "anpe", "anpe-le-puy-c1", start)
            )
        with database.session() as session, pytest.raises(appointments.BookingRefused):
            appointments.book(
                session,
                load_routing_plan(session, settings),
                appointments.Booking("vorey", "anpe", "anpe-le-puy-c2", start),
            )
    presses = [
        ("kiosk-vorey-1", "anpe", datetime(2006, 11, 8, 10, 5, tzinfo=PARIS)),
        ("kiosk-vorey-1", "anpe", datetime(2006, 11, 1, 10, tzinfo=PARIS)),
        ("kiosk-vorey-1", "msa", datetime(2006, 11, 24, 10, tzinfo=PARIS)),
        ("kiosk-cunlhat-1", "caf", datetime(2006, 12, 28, 10, tzinfo=PARIS)),
    ]
    answers = []
    for database in (pg, db):
        with database.sessions() as session:
            plan = load_routing_plan(session, settings)
        answers.append([decide(plan, *press).to_json() for press in presses])
    assert answers[0] == answers[1]
    assert answers[0][0]["decision"] == "appointment"


def test_staffing_figures_agree_with_sqlite(pg: Database, db: Database) -> None:
    """The staffing section reads instants as the driver returns them (SQLite: text)."""
    from pvp.model import CallRecord
    from pvp.panel.staffing_figures import staffing
    from pvp.panel.stats import Filters

    # Two presses in Vorey's MSA window (4th Friday 9:00-12:00), one outside it.
    presses = [
        datetime(2006, 11, 24, 9, 30, tzinfo=PARIS),
        datetime(2006, 11, 24, 11, 59, tzinfo=PARIS),
        datetime(2006, 11, 24, 12, 30, tzinfo=PARIS),
    ]
    found = []
    for database in (pg, db):
        with database.session() as session:
            for n, at in enumerate(presses):
                session.add(
                    CallRecord(
                        id=f"staffing-{n}",
                        kiosk_id="kiosk-vorey-1",
                        site_id="vorey",
                        service_code="msa",
                        decision="walk_in",
                        mode="walk_in",
                        pressed_at=at,
                        talk_seconds=600.0,
                        outcome="served",
                    )
                )
        with database.sessions() as session:
            found.append(
                staffing(
                    session,
                    Filters(2006, "vorey", "msa"),
                    PARIS,
                    now=datetime(2007, 1, 1, tzinfo=PARIS),
                )
            )
        with database.session() as session:
            for n in range(len(presses)):
                session.delete(session.get(CallRecord, f"staffing-{n}"))
    assert found[0] == found[1]
    assert found[0][0].calls == 2 and found[0][0].estimate is not None
