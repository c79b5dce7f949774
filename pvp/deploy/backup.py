"""``pvp backup create|restore``: the database and the document store in one archive.

The archive (``.tar.gz``) holds ``manifest.json`` (format, schema revision, row and file
counts), one JSON Lines file per table, the documents under ``documents/`` by SHA-256 and the
generated secrets (``secrets.json``: event socket, xml_curl, panel key) so a restored machine
keeps talking to its switch. Rows are written through SQLAlchemy, not a database's own dump
tool, so an archive of a SQLite machine restores into PostgreSQL and back. A restore goes into
an empty database and an empty document store only: anything else is refused, nothing changed.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, TypeDecorator, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from pvp.common.errors import PvpError
from pvp.common.fsutil import write_atomically
from pvp.config import Settings
from pvp.db import Database, alembic_config
from pvp.model import Base

FORMAT = 1
SECRETS = "secrets.json"


class BackupError(PvpError, code="backup_failed", summary="sauvegarde ou restauration impossible"):
    """An archive that cannot be made or restored; the message says why (English)."""


@dataclass(frozen=True)
class BackupReport:
    revision: str
    rows: dict[str, int]
    documents: int

    def summary(self) -> str:
        return (
            f"schema {self.revision}, {sum(self.rows.values())} rows in {len(self.rows)} tables,"
            f" {self.documents} documents"
        )


def head_revision(engine: Engine) -> str:
    script = ScriptDirectory.from_config(alembic_config(engine))
    return str(script.get_current_head())


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        raise BackupError("binary columns are not supported")
    return value


def _decoder(table: Table) -> dict[str, Any]:
    """Column name -> function turning a JSON value back into the column's Python value."""
    decoders: dict[str, Any] = {}
    for column in table.columns:
        sql_type = column.type
        if isinstance(sql_type, TypeDecorator):  # e.g. UTCDateTime: its stored type says
            sql_type = sql_type.impl_instance
        try:
            kind = sql_type.python_type
        except NotImplementedError:
            continue
        if kind is datetime:
            decoders[column.name] = _instant
        elif kind in (date, time):
            decoders[column.name] = kind.fromisoformat
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            decoders[column.name] = kind
    return decoders


def _instant(text_value: str) -> datetime:
    value = datetime.fromisoformat(text_value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _documents(root: Path) -> Iterator[Path]:
    if root.is_dir():
        yield from sorted(p for p in root.glob("??/*.pdf") if p.is_file())


def create(settings: Settings, db: Database, archive: Path) -> BackupReport:
    """Write the archive (mode 0600: it holds secrets) in one consistent database read."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(f".{archive.name}.part")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    try:
        report = _write(settings, db, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(archive)
    return report


def _write(settings: Settings, db: Database, tmp: Path) -> BackupReport:
    rows: dict[str, int] = {}
    documents = 0
    with db.engine.connect() as conn, tarfile.open(tmp, "w:gz") as tar:
        # One transaction: on PostgreSQL REPEATABLE READ gives one snapshot of every table.
        if db.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            revision = current_revision(conn)
            if revision is None:
                raise BackupError("the database has no schema (never migrated)")
            for table in Base.metadata.sorted_tables:
                lines = [
                    json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False)
                    for row in conn.execute(select(table)).mappings()
                ]
                rows[table.name] = len(lines)
                _add(tar, f"tables/{table.name}.jsonl", "\n".join(lines).encode())
        for path in _documents(settings.documents_dir()):
            tar.add(path, f"documents/{path.parent.name}/{path.name}")
            documents += 1
        secrets = settings.data_dir / SECRETS
        if secrets.is_file():
            _add(tar, SECRETS, secrets.read_bytes())
        manifest = {"format": FORMAT, "revision": revision, "rows": rows, "documents": documents}
        manifest["created_at"] = datetime.now(UTC).isoformat()
        _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
    return BackupReport(revision, rows, documents)


def _read_archive(archive: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members: dict[str, bytes] = {}
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is not None:
                    members[member.name] = fh.read()
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a PVP backup archive ({exc})") from None
    if "manifest.json" not in members:
        raise BackupError(f"{archive}: not a PVP backup archive (no manifest.json)")
    manifest = json.loads(members["manifest.json"])
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')} is not {FORMAT}")
    return manifest, members


def _check_documents(members: dict[str, bytes]) -> dict[str, bytes]:
    found = {}
    for name, data in members.items():
        if not name.startswith("documents/"):
            continue
        sha = Path(name).stem
        if hashlib.sha256(data).hexdigest() != sha or name != f"documents/{sha[:2]}/{sha}.pdf":
            raise BackupError(f"damaged archive: {name} does not match its SHA-256")
        found[f"{sha[:2]}/{sha}.pdf"] = data
    return found


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: rows came with their ids, so each id sequence goes past the largest."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or pk[0].autoincrement not in (True, "auto"):
            continue
        if pk[0].type.python_type is not int:
            continue
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if sequence:
            top = conn.execute(select(func.max(pk[0]))).scalar()
            conn.execute(
                text("SELECT setval(:s, :v, :called)"),
                {"s": sequence, "v": top or 1, "called": top is not None},
            )


def restore(settings: Settings, db: Database, archive: Path) -> BackupReport:
    """Fill an empty database and document store from ``archive``; refuse anything else."""
    manifest, members = _read_archive(archive)
    documents = _check_documents(members)
    head = head_revision(db.engine)
    if manifest["revision"] != head:
        raise BackupError(
            f"the archive's schema is {manifest['revision']}, this PVP's is {head}:"
            " restore with the PVP version that made it, then upgrade"
        )
    root = settings.documents_dir()
    if any(_documents(root)):
        raise BackupError(f"the document store {root} is not empty: restore into an empty one")
    with db.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar():
                raise BackupError(
                    f"the database is not empty (table {table.name} has rows):"
                    " restore into an empty database"
                )
        rows: dict[str, int] = {}
        for table in Base.metadata.sorted_tables:
            data = members.get(f"tables/{table.name}.jsonl", b"").decode()
            decoders = _decoder(table)
            values = []
            for line in filter(None, data.split("\n")):
                row = json.loads(line)
                for name, decode in decoders.items():
                    if row.get(name) is not None:
                        row[name] = decode(row[name])
                values.append(row)
            if values:
                conn.execute(insert(table), values)
            rows[table.name] = len(values)
        if db.engine.dialect.name == "postgresql":
            _reset_sequences(conn)
        # Inside the transaction: a disk error here leaves the database empty again.
        for relative, content in documents.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, content)
    if SECRETS in members and not (settings.data_dir / SECRETS).exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / SECRETS).touch(mode=0o600)
        write_atomically(settings.data_dir / SECRETS, members[SECRETS])
        (settings.data_dir / SECRETS).chmod(0o600)
    return BackupReport(manifest["revision"], rows, len(documents))
