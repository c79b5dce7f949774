"""Backup and restore: an empty machine (SQLite or PostgreSQL) serves the same plan after it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pvp import appointments
from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.deploy.backup import BackupError, create, restore
from pvp.documents.store import DocumentStore
from pvp.plan_view import load_routing_plan
from pvp.routing import decide
from testkit.documents import text_pdf

PARIS = ZoneInfo("Europe/Paris")
INSTANTS = [
    datetime(2006, 11, 8, 10, 5, tzinfo=PARIS),  # Vorey ANPE, booked below
    datetime(2006, 11, 24, 10, tzinfo=PARIS),  # 4th Friday: MSA walk-in at Vorey
    datetime(2006, 12, 25, 10, tzinfo=PARIS),  # Christmas
    datetime(2007, 3, 3, 23, tzinfo=PARIS),  # a Saturday night
]


def _answers(settings: Settings, db: Database) -> list[dict[str, object]]:
    """Every routing answer of the plan: each kiosk, each service, each instant."""
    with db.session() as session:
        plan = load_routing_plan(session, settings)
    services = sorted({s for k in plan.kiosks.values() for s in k.services})
    return [
        decide(plan, kiosk, service, at).to_json()
        for kiosk in sorted(plan.kiosks)
        for service in services
        for at in INSTANTS
    ]


def _documents(settings: Settings) -> dict[str, str]:
    root = settings.documents_dir()
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.pdf"))}


@pytest.fixture
def site(settings: Settings, db: Database) -> Settings:
    """The 2006 plan with one appointment, two documents and the generated secrets."""
    with db.session() as session:
        plan = load_routing_plan(session, settings)
        start = datetime(2006, 11, 8, 10, tzinfo=PARIS)
        appointments.book(
            session, plan, appointments.Booking("vorey", "anpe", "anpe-le-puy-c1", start)
        )
        store = DocumentStore(settings.documents_dir(), settings.document_max_bytes)
        for text in ("Formulaire CERFA", "Attestation"):
            store.put(session, text_pdf(text), datetime.now(UTC))
    settings.secret("esl_password")
    return settings


@pytest.fixture
def archive(site: Settings, db: Database, tmp_path: Path) -> Path:
    path = tmp_path / "backup" / "pvp.tar.gz"
    report = create(site, db, path)
    assert report.documents == 2 and report.rows["kiosks"] == 20
    assert path.stat().st_mode & 0o077 == 0  # it holds the secrets
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    settings = Settings(data_dir=tmp_path / "fresh")
    db = Database(settings.resolved_database_url())
    yield settings, db
    db.engine.dispose()


def test_restore_into_an_empty_sqlite_machine_serves_the_same_plan(
    site: Settings, db: Database, archive: Path, fresh: tuple[Settings, Database]
) -> None:
    settings, target = fresh
    restore(settings, target, archive)
    assert _answers(settings, target) == _answers(site, db)
    assert any(a["decision"] == "appointment" for a in _answers(settings, target))
    assert _documents(settings) == _documents(site) and len(_documents(site)) == 2
    assert settings.secret("esl_password") == site.secret("esl_password")


def test_restore_into_an_empty_postgresql_database_serves_the_same_plan(
    site: Settings,
    db: Database,
    archive: Path,
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "pg-site", database_url=postgres_url)
    target = Database(postgres_url)
    try:
        restore(settings, target, archive)
        assert _answers(settings, target) == _answers(site, db)
        assert _documents(settings) == _documents(site)
        # The id sequences went past the restored rows: a new booking gets a new id.
        with target.session() as session:
            booked = appointments.book(
                session,
                load_routing_plan(session, settings, since=datetime(2006, 11, 1, tzinfo=UTC)),
                appointments.Booking(
                    "vorey", "anpe", "anpe-le-puy-c1", datetime(2006, 11, 9, 10, tzinfo=PARIS)
                ),
            )
            assert booked.id == 2
        # And the PostgreSQL machine's backup restores back into SQLite.
        again = tmp_path / "from-pg.tar.gz"
        create(settings, target, again)
        back = Settings(data_dir=tmp_path / "back")
        back_db = Database(back.resolved_database_url())
        restore(back, back_db, again)
        assert _answers(back, back_db) == _answers(settings, target)
    finally:
        target.engine.dispose()


def test_restore_into_a_machine_in_use_is_refused_and_changes_nothing(
    site: Settings, db: Database, archive: Path
) -> None:
    before = _answers(site, db)
    with pytest.raises(BackupError, match="not empty"):
        restore(site, db, archive)
    assert _answers(site, db) == before


def test_a_damaged_document_in_the_archive_is_refused_before_anything_is_written(
    archive: Path, fresh: tuple[Settings, Database], tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            if member.name.startswith("documents/"):
                content = b"%PDF-1.4 not the same bytes"
                member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
            else:
                dst.addfile(member, data)
    settings, target = fresh
    with pytest.raises(BackupError, match="SHA-256"):
        restore(settings, target, damaged)
    with target.session() as session:
        assert load_routing_plan(session, settings).kiosks == {}
    assert _documents(settings) == {}


def test_cli_backs_up_and_restores_and_says_why_it_refuses(
    site: Settings, db: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    path = tmp_path / "cli.tar.gz"
    env = {"PVP_DATA_DIR": str(site.data_dir)}
    made = runner.invoke(main, ["backup", "create", str(path)], env=env)
    assert made.exit_code == 0, made.output
    assert "2 documents" in made.output
    refused = runner.invoke(main, ["backup", "restore", str(path)], env=env)
    assert refused.exit_code == 2
    assert "not empty" in refused.output
    restored = runner.invoke(
        main, ["backup", "restore", str(path)], env={"PVP_DATA_DIR": str(tmp_path / "new")}
    )
    assert restored.exit_code == 0, restored.output
    not_archive = tmp_path / "x.tar.gz"
    not_archive.write_bytes(b"hello")
    bad = runner.invoke(
        main, ["backup", "restore", str(not_archive)], env={"PVP_DATA_DIR": str(tmp_path / "n2")}
    )
    assert bad.exit_code == 2 and "not a PVP backup archive" in bad.output


def test_backup_of_a_database_with_a_recent_timestamp_round_trips(
    site: Settings, db: Database, archive: Path, fresh: tuple[Settings, Database]
) -> None:
    settings, target = fresh
    restore(settings, target, archive)
    with db.session() as a, target.session() as b:
        from pvp.model import Appointment

        one = a.get(Appointment, 1)
        two = b.get(Appointment, 1)
        assert one is not None and two is not None
        assert (one.start, one.created_at, one.status) == (two.start, two.created_at, two.status)
        assert abs(two.created_at - datetime.now(UTC)) < timedelta(minutes=5)
