"""The document store: once by hash, atomic files, retention, export and erasure per citizen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pvp.cli import main
from pvp.common.pdf import DocumentError
from pvp.config import Settings
from pvp.db import Database
from pvp.documents.store import DocumentStore, sha256_hex
from pvp.model import Document, DocumentTransfer
from testkit.documents import CITIZEN, start_call, text_pdf

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(settings: Settings) -> DocumentStore:
    return DocumentStore(settings.documents_dir(), max_bytes=1024 * 1024, max_pages=50)


def _audit(session, store, pdf, citizen, command, when=NOW, kind="printed"):  # type: ignore[no-untyped-def]
    document = store.put(session, pdf, when)
    session.add(
        DocumentTransfer(
            command_id=command,
            kind=kind,
            sha256=document.sha256,
            sender="anpe-le-puy-c1",
            recipient="kiosk-vorey-1",
            kiosk_id="kiosk-vorey-1",
            citizen_ref=citizen,
            title="Formulaire",
            status="done",
            reason="",
            details={},
            created_at=when,
        )
    )
    session.flush()
    return document


def test_given_one_pdf_sent_twice_then_one_file_and_one_row(
    db: Database, store: DocumentStore
) -> None:
    pdf = text_pdf("formulaire")
    with db.session() as session:
        first = store.put(session, pdf, NOW)
        second = store.put(session, pdf, NOW + timedelta(hours=1))
        assert first.sha256 == second.sha256 == sha256_hex(pdf)
        assert second.last_used_at == NOW + timedelta(hours=1)
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [store.path(sha256_hex(pdf))]
    assert files[0].read_bytes() == pdf
    assert store.read(sha256_hex(pdf)) == pdf


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a not a pdf at all", "le fichier n'est pas un PDF"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "PDF illisible"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_written(
    db: Database, store: DocumentStore, data: bytes, reason: str
) -> None:
    with db.session() as session, pytest.raises(DocumentError, match=reason):
        store.put(session, data, NOW)
    with db.sessions() as session:
        assert session.query(Document).count() == 0
    assert not store.root.exists() or not any(store.root.rglob("*.pdf"))


def test_over_the_size_limit_and_hash_mismatch_are_refused(
    db: Database, settings: Settings
) -> None:
    pdf = text_pdf("formulaire")
    small = DocumentStore(settings.documents_dir(), max_bytes=len(pdf) - 1)
    with db.session() as session, pytest.raises(DocumentError, match="trop volumineux"):
        small.put(session, pdf, NOW)
    big = DocumentStore(settings.documents_dir(), max_bytes=len(pdf))
    with db.session() as session, pytest.raises(DocumentError, match="SHA-256"):
        big.put(session, pdf, NOW, expected_sha256="0" * 64)
    assert not any(settings.documents_dir().rglob("*.pdf"))


def test_a_corrupted_file_on_disk_is_never_served(db: Database, store: DocumentStore) -> None:
    pdf = text_pdf("formulaire")
    with db.session() as session:
        store.put(session, pdf, NOW)
    store.path(sha256_hex(pdf)).write_bytes(pdf[:-10] + b"0123456789")
    with pytest.raises(LookupError, match="endommagé"):
        store.read(sha256_hex(pdf))


def test_retention_purges_files_and_keeps_the_audit_rows(
    db: Database, store: DocumentStore
) -> None:
    old, recent = text_pdf("ancien"), text_pdf("récent")
    with db.session() as session:
        _audit(session, store, old, CITIZEN, "c-old", when=NOW - timedelta(days=31))
        _audit(session, store, recent, CITIZEN, "c-new", when=NOW - timedelta(days=29))
    with db.session() as session:
        report = store.purge(session, NOW, timedelta(days=30))
    assert report.purged == 1 and report.bytes_freed == len(old)
    assert not store.path(sha256_hex(old)).exists()
    assert store.path(sha256_hex(recent)).exists()
    with db.sessions() as session:
        row = session.get(Document, sha256_hex(old))
        assert row is not None and row.purged_at == NOW and row.purge_reason == "retention"
        assert session.query(DocumentTransfer).count() == 2
    with pytest.raises(LookupError, match="supprimé"):
        store.read(sha256_hex(old))
    # Sent again later, the same document is stored again for a new period.
    with db.session() as session:
        again = store.put(session, old, NOW)
        assert again.purged_at is None
    assert store.read(sha256_hex(old)) == old


def test_export_and_forget_a_citizen(db: Database, store: DocumentStore, tmp_path: Path) -> None:
    mine, shared, other = text_pdf("mon dossier"), text_pdf("formulaire vierge"), text_pdf("autre")
    with db.session() as session:
        _audit(session, store, mine, CITIZEN, "c1", kind="scanned")
        _audit(session, store, shared, CITIZEN, "c2")
        _audit(session, store, shared, "AUTRE-1", "c3")
        _audit(session, store, other, "AUTRE-1", "c4")
    with db.sessions() as session:
        files = store.export_citizen(session, CITIZEN, tmp_path / "export")
    assert sorted(p.read_bytes() for p in files) == sorted([mine, shared])
    index = json.loads((tmp_path / "export" / "transfers.json").read_text())
    assert [t["command"] for t in index["transfers"]] == ["c1", "c2"]
    assert all(t["citizen"] == CITIZEN for t in index["transfers"])

    with db.session() as session:
        assert store.forget_citizen(session, CITIZEN, NOW) == 2
    assert not store.path(sha256_hex(mine)).exists()
    assert store.path(sha256_hex(shared)).exists()  # still someone else's
    assert store.path(sha256_hex(other)).exists()
    with db.sessions() as session:
        rows = session.query(DocumentTransfer).order_by(DocumentTransfer.command_id).all()
        assert [r.citizen_ref for r in rows] == ["", "", "AUTRE-1", "AUTRE-1"]
        assert session.get(Document, sha256_hex(mine)).purge_reason == "forgotten"  # type: ignore[union-attr]
        assert store.citizen_transfers(session, CITIZEN) == []


def test_cli_purge_export_forget(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    store = DocumentStore(settings.documents_dir(), settings.document_max_bytes)
    pdf = text_pdf("dossier")
    start_call(db)
    with db.session() as session:
        _audit(session, store, pdf, CITIZEN, "c1", when=datetime.now(UTC))
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(main, ["doc", "export", "--citizen", CITIZEN, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "transfers.json").exists() and len(list(out.glob("*.pdf"))) == 1
    done = runner.invoke(main, ["doc", "purge"])
    assert done.exit_code == 0 and "0 document" in done.output
    done = runner.invoke(main, ["doc", "forget", "--citizen", CITIZEN])
    assert done.exit_code == 0, done.output
    assert not store.path(sha256_hex(pdf)).exists()
    done = runner.invoke(main, ["doc", "forget", "--citizen", " "])
    assert done.exit_code == 2 and "vide" in done.output


def test_cli_actions_need_the_switch_and_say_so(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PVP_ESL_PORT", "9")  # nothing listens there
    monkeypatch.setenv("PVP_ESL_PASSWORD", "x")
    pdf = tmp_path / "f.pdf"
    pdf.write_bytes(text_pdf("Formulaire"))
    call = start_call(db)
    runner = CliRunner()
    for args in (
        ["doc", "send", "--counsellor", "anpe-le-puy-c1", "--call", call, str(pdf)],
        ["doc", "scan", "--counsellor", "anpe-le-puy-c1", "--call", call],
        ["doc", "fax", "--to", "0471000000", "--counsellor", "anpe-le-puy-c1", str(pdf)],
    ):
        done = runner.invoke(main, args)
        assert done.exit_code == 2, done.output
        assert "Event Socket" in done.output
    with db.sessions() as session:
        assert session.query(DocumentTransfer).count() == 0
